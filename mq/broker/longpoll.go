package broker

import (
	"sync"
	"sync/atomic"
)

// longPolls holds the waiters of parked pulls, per queue, so that an
// append wakes exactly the waiters of its queue.
type longPolls struct {
	n atomic.Int64 // waiters in total: appends skip the lock when none

	mu      sync.Mutex
	waiters map[pollKey]map[*pollWaiter]struct{}
}

type pollKey struct {
	topic   string
	queueID int32
}

// pollWaiter is one parked pull. wake has room for one signal, so a
// notification between two reads is never lost.
type pollWaiter struct {
	wake chan struct{}
}

func newLongPolls() *longPolls {
	return &longPolls{waiters: map[pollKey]map[*pollWaiter]struct{}{}}
}

func (p *longPolls) add(topic string, queueID int32) *pollWaiter {
	w := &pollWaiter{wake: make(chan struct{}, 1)}
	k := pollKey{topic, queueID}
	p.mu.Lock()
	set := p.waiters[k]
	if set == nil {
		set = map[*pollWaiter]struct{}{}
		p.waiters[k] = set
	}
	set[w] = struct{}{}
	p.mu.Unlock()
	p.n.Add(1)
	return w
}

func (p *longPolls) remove(topic string, queueID int32, w *pollWaiter) {
	k := pollKey{topic, queueID}
	p.mu.Lock()
	if set := p.waiters[k]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(p.waiters, k)
		}
	}
	p.mu.Unlock()
	p.n.Add(-1)
}

// notify wakes the waiters of a queue. The store calls it after every
// append, so it must be cheap when nobody waits.
func (p *longPolls) notify(topic string, queueID int32, _ int64) {
	if p.n.Load() == 0 {
		return
	}
	p.mu.Lock()
	for w := range p.waiters[pollKey{topic, queueID}] {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}

// count returns how many pulls are parked (for runtime info).
func (p *longPolls) count() int64 { return p.n.Load() }
