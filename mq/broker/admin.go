package broker

import "github.com/surge-mq/surge/mq/remoting"

// routeAdmin registers the admin and query handlers.
func (b *Broker) routeAdmin(mux *remoting.Mux) {}
