package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WithAutoCommit makes a pull consumer commit, every interval and at Close,
// the offsets of what Poll returned. 0 turns it off: only Commit commits.
// Default 5 s.
func WithAutoCommit(interval time.Duration) Option {
	return func(c *config) { c.autoCommit = interval }
}

// PullConsumer is a "lite pull" consumer: the caller polls. Its queues are
// either the group's share of subscribed topics (Subscribe, rebalanced
// like a push consumer's) or chosen by the caller (Assign). Each queue is
// prefetched in the background into a cache bounded by WithPullThresholds.
// It is safe for concurrent use.
type PullConsumer struct {
	*member
	ready  chan struct{} // some queue got messages
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	pollMu sync.Mutex // one Poll at a time

	mu       sync.Mutex
	queues   map[Queue]*pulled
	order    []Queue // queues sorted, for a fair Poll
	rr       int
	assigned bool
	started  bool
	closed   bool
}

// pulled is one queue of a pull consumer.
type pulled struct {
	q       publishQueue
	cache   *msgCache
	sub     *subscription
	known   atomic.Bool // the cache's offsets are set
	paused  bool
	stored  int64 // last offset committed, -1 none
	stop    context.CancelFunc
	stopped chan struct{}
}

// NewPullConsumer returns a pull consumer of group; Subscribe or Assign,
// then Start.
func NewPullConsumer(group string, opts ...Option) (*PullConsumer, error) {
	m, err := newMember(group, "CONSUME_ACTIVELY", append([]Option{WithAutoCommit(5 * time.Second)}, opts...))
	if err != nil {
		return nil, err
	}
	p := &PullConsumer{member: m, ready: make(chan struct{}, 1), queues: map[Queue]*pulled{}}
	m.cached = p.Cached
	return p, nil
}

// Subscribe makes the consumer take its group's share of topic's queues;
// expr is "*" or tags joined by "||". Call before Start; it cannot be
// mixed with Assign.
func (p *PullConsumer) Subscribe(topic, expr string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.assigned {
		return errors.New("client: Subscribe after Start or Assign")
	}
	p.subscribe(topic, expr, nil)
	return nil
}

// Queues returns a topic's queues, for Assign.
func (p *PullConsumer) Queues(ctx context.Context, topic string) ([]Queue, error) {
	qs, err := p.routes.readQueues(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("queues of %s: %w", topic, err)
	}
	out := make([]Queue, len(qs))
	for i, q := range qs {
		out[i] = q.Queue
	}
	return out, nil
}

// Assign makes the consumer pull exactly these queues (all messages, no
// rebalancing), replacing any earlier assignment. Offsets are still the
// group's: a queue starts where the group left it.
func (p *PullConsumer) Assign(ctx context.Context, queues ...Queue) error {
	if p.isClosed() {
		return ErrClosed
	}
	want := map[Queue]publishQueue{}
	for _, q := range queues {
		qs, err := p.routes.readQueues(ctx, q.Topic)
		if err != nil {
			return fmt.Errorf("assign %s: %w", q.Topic, err)
		}
		i := slices.IndexFunc(qs, func(pq publishQueue) bool { return pq.Queue == q })
		if i < 0 {
			return fmt.Errorf("assign: topic %s has no queue %d on broker %s", q.Topic, q.QueueID, q.Broker)
		}
		want[q] = qs[i]
	}
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return ErrClosed
	case len(p.subs) > 0:
		p.mu.Unlock()
		return errors.New("client: Assign after Subscribe")
	}
	p.assigned = true
	p.mu.Unlock()
	p.apply(want)
	return nil
}

// Assignment returns the queues the consumer polls, sorted.
func (p *PullConsumer) Assignment() []Queue {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.order)
}

// Cached returns the prefetched messages and bytes of each queue.
func (p *PullConsumer) Cached() map[Queue]CacheStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cacheStats(p.queues, func(pl *pulled) *msgCache { return pl.cache })
}

// Start starts prefetching, and for Subscribe joins the group.
func (p *PullConsumer) Start(ctx context.Context) error {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return ErrClosed
	case p.started:
		p.mu.Unlock()
		return errors.New("client: started twice")
	case len(p.subs) == 0 && !p.assigned:
		p.mu.Unlock()
		return errors.New("client: Start without Subscribe or Assign")
	}
	p.mu.Unlock()
	if err := p.checkTopics(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.started = true
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, pl := range p.queues {
		p.startFetch(pl)
	}
	if !p.assigned {
		p.heartbeat(ctx)
		p.wg.Go(func() { p.run(p.ctx, p.apply, func() {}) })
	}
	if p.cfg.autoCommit > 0 {
		p.wg.Go(p.autoCommit)
	}
	return nil
}

// apply makes the consumer's queues those wanted.
func (p *PullConsumer) apply(want map[Queue]publishQueue) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for q, pl := range p.queues {
		if _, ok := want[q]; !ok {
			p.stopFetch(pl)
			if p.cfg.autoCommit > 0 && pl.known.Load() {
				if err := p.commit(context.Background(), pl.q, pl.cache.consumed()); err != nil {
					p.cfg.logger.Warn("offset commit failed", "err", err)
				}
			}
			delete(p.queues, q)
		}
	}
	for q, pq := range want {
		if _, ok := p.queues[q]; ok {
			continue
		}
		sub := p.subs[q.Topic]
		if sub == nil {
			sub = &subscription{topic: q.Topic, expr: "*"}
		}
		pl := &pulled{q: pq, cache: newMsgCache(pq, p.ready), sub: sub, stored: -1}
		p.queues[q] = pl
		if p.started {
			p.startFetch(pl)
		}
	}
	p.order = slices.SortedFunc(maps.Keys(p.queues), compareQueues)
	return false
}

func compareQueues(a, b Queue) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.Broker, b.Broker), cmp.Compare(a.QueueID, b.QueueID))
}

// startFetch starts prefetching a queue (p.mu held): from the group's
// start offset the first time, else from where its cache is.
func (p *PullConsumer) startFetch(pl *pulled) {
	if pl.paused || p.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	pl.stop, pl.stopped = cancel, make(chan struct{})
	p.wg.Go(func() {
		defer close(pl.stopped)
		if !pl.known.Load() {
			off, err := p.startOffset(ctx, pl.q)
			if err != nil {
				return
			}
			pl.cache.reset(off)
			pl.known.Store(true)
		}
		p.fetch(ctx, pl.cache, pl.sub, false)
	})
}

// stopFetch stops a queue's prefetching and waits for it (p.mu held).
func (p *PullConsumer) stopFetch(pl *pulled) {
	if pl.stop != nil {
		pl.stop()
		<-pl.stopped
		pl.stop = nil
	}
}

// Poll returns the next messages, up to the pull batch size, taking turns
// among the queues that have some. It waits until there are messages, ctx
// ends (the error wraps ctx.Err()) or the consumer is closed (ErrClosed).
// With auto-commit, the messages count as consumed once returned.
func (p *PullConsumer) Poll(ctx context.Context) ([]*MessageExt, error) {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if !p.started {
			p.mu.Unlock()
			return nil, ErrNotStarted
		}
		msgs := p.take()
		p.mu.Unlock()
		if len(msgs) > 0 {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("poll: %w", timeout(ctx.Err()))
		case <-p.ctx.Done():
			return nil, ErrClosed
		case <-p.ready:
		}
	}
}

// take removes up to a batch of cached messages (p.mu held).
func (p *PullConsumer) take() []*MessageExt {
	var out []*MessageExt
	for i := range p.order {
		if len(out) == p.cfg.pullBatch {
			break
		}
		pl := p.queues[p.order[(p.rr+i)%len(p.order)]]
		if pl.paused {
			continue
		}
		got := pl.cache.peek(p.cfg.pullBatch - len(out))
		pl.cache.remove(len(got))
		out = append(out, got...)
	}
	if len(p.order) > 0 {
		p.rr = (p.rr + 1) % len(p.order)
	}
	if len(out) > 0 {
		signal(p.ready) // others may still have messages
	}
	return out
}

// Commit stores, for every queue, the offset after the messages Poll has
// returned.
func (p *PullConsumer) Commit(ctx context.Context) error {
	if p.isClosed() {
		return ErrClosed
	}
	return p.flush(ctx)
}

func (p *PullConsumer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// flush commits the offsets that moved since they were last stored.
func (p *PullConsumer) flush(ctx context.Context) error {
	type pending struct {
		pl  *pulled
		off int64
	}
	p.mu.Lock()
	var todo []pending
	for _, pl := range p.queues {
		if off := pl.cache.consumed(); pl.known.Load() && off != pl.stored {
			todo = append(todo, pending{pl, off})
		}
	}
	p.mu.Unlock()
	var errs []error
	for _, t := range todo {
		if err := p.commit(ctx, t.pl.q, t.off); err != nil {
			errs = append(errs, err)
			continue
		}
		p.mu.Lock()
		t.pl.stored = t.off
		p.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (p *PullConsumer) autoCommit() {
	t := time.NewTicker(p.cfg.autoCommit)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			if err := p.flush(p.ctx); err != nil && p.ctx.Err() == nil {
				p.cfg.logger.Warn("auto-commit failed", "err", err)
			}
		}
	}
}
