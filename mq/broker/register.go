package broker

import (
	"context"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// registerLoop registers the broker with every NameServer at start, every
// RegisterInterval, and at once when the topic table changes. The
// registration is also the broker's heartbeat: a NameServer drops a broker
// silent for 120 s.
func (b *Broker) registerLoop() {
	if len(b.cfg.NamesrvAddrs) == 0 {
		return
	}
	t := time.NewTicker(b.cfg.RegisterInterval)
	defer t.Stop()
	first := true
	for {
		ok := b.registerAll()
		if first {
			first = false
			if ok > 0 {
				b.log.Info("registered with NameServers", "broker", b.cfg.BrokerName, "namesrv", b.cfg.NamesrvAddrs, "reachable", ok)
			}
		}
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.registerNow:
		}
	}
}

// registerAll registers with every NameServer in parallel and returns how
// many accepted.
func (b *Broker) registerAll() int {
	topics, version := b.topics.snapshot()
	body, err := (&protocol.RegisterBrokerBody{
		TopicConfigSerializeWrapper: protocol.TopicConfigSerializeWrapper{DataVersion: version, TopicConfigTable: topics},
	}).Marshal()
	if err != nil {
		b.log.Error("encode registration", "err", err)
		return 0
	}
	ext := protocol.RegisterBrokerRequestHeader{
		BrokerName: b.cfg.BrokerName, BrokerAddr: b.Addr(), ClusterName: b.cfg.ClusterName,
		HAServerAddr: b.Addr(), BrokerID: b.cfg.BrokerID, BodyCRC32: int32(protocol.BodyChecksum(body)),
	}.Ext()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, addr := range b.cfg.NamesrvAddrs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
			defer cancel()
			resp, err := b.nsrv.Invoke(ctx, addr, remoting.NewRequest(protocol.RegisterBroker, ext, body))
			switch {
			case err != nil:
				b.log.Warn("register with NameServer failed", "addr", addr, "err", err)
			case resp.Code != protocol.Success:
				b.log.Warn("NameServer refused registration", "addr", addr, "code", resp.Code, "remark", resp.Remark)
			default:
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok
}

// unregisterAll tells every NameServer the broker is leaving, so clients
// stop routing to it at once instead of after the 120 s expiry.
func (b *Broker) unregisterAll(ctx context.Context) {
	ext := protocol.BrokerIdentityHeader{BrokerName: b.cfg.BrokerName, BrokerAddr: b.Addr(), ClusterName: b.cfg.ClusterName, BrokerID: b.cfg.BrokerID}.Ext()
	var wg sync.WaitGroup
	for _, addr := range b.cfg.NamesrvAddrs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if _, err := b.nsrv.Invoke(ctx, addr, remoting.NewRequest(protocol.UnregisterBroker, ext, nil)); err != nil {
				b.log.Warn("unregister from NameServer failed", "addr", addr, "err", err)
			}
		})
	}
	wg.Wait()
}
