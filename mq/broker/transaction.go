package broker

import (
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// routeTransactions registers END_TRANSACTION.
func (b *Broker) routeTransactions(mux *remoting.Mux) {}

// transactionCheckLoop asks producers about undecided half messages.
func (b *Broker) transactionCheckLoop() { <-b.stop }

// toHalfTopic stores a half message out of consumers' sight.
func (b *Broker) toHalfTopic(m *protocol.Message) {}
