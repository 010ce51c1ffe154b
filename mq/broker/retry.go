package broker

import "github.com/surge-mq/surge/mq/remoting"

// routeRetry registers the retry handlers (CONSUMER_SEND_MSG_BACK).
func (b *Broker) routeRetry(mux *remoting.Mux) {}
