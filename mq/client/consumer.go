package client

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// Consumer options.

// WithBroadcasting makes every member of the group receive every message
// (offsets are kept in memory). Default: clustering, where the group's
// members share the queues.
func WithBroadcasting() Option { return func(c *config) { c.broadcasting = true } }

// WithMaxReconsumeTimes bounds redeliveries of a failed message before the
// broker moves it to the group's dead-letter topic. Default 16.
func WithMaxReconsumeTimes(n int) Option { return func(c *config) { c.maxReconsume = n } }

// WithOrderly consumes each queue in order: a queue is consumed by one
// member at a time (locked on the broker, renewed every 20 s), messages are
// handled one at a time, and a failed one is retried in place up to
// retries times before it goes to the retry topic.
func WithOrderly(retries int) Option {
	return func(c *config) { c.orderly, c.localRetries = true, retries }
}

// WithShutdownTimeout bounds how long Close lets in-flight handlers run
// before it cancels their context; Close still waits for them to return.
// Default 30 s.
func WithShutdownTimeout(d time.Duration) Option { return func(c *config) { c.shutdown = d } }

// MessageExt is a consumed message.
type MessageExt struct {
	*protocol.Message
	// MsgID is the unique ID (UNIQ_KEY), or the broker's ID.
	MsgID  string
	Broker string
}

// Tags returns the message's tag.
func (m *MessageExt) Tags() string { return m.Property(protocol.PropertyTags) }

// Handler consumes a batch of messages of one queue. An error sends them
// back to the broker for a later retry.
type Handler func(ctx context.Context, msgs []*MessageExt) error

type subscription struct {
	topic   string
	expr    string
	tags    []string
	handler Handler
}

// Consumer is a push consumer: it pulls its share of the subscribed
// topics' queues with long polling into a bounded cache per queue and
// hands the messages to the handlers, one batch of a queue at a time.
type Consumer struct {
	*member
	ctx    context.Context // ends at Close: stops pulling and new batches
	cancel context.CancelFunc
	// hctx is the handlers' context; Close cancels it only after the
	// shutdown timeout.
	hctx    context.Context
	hcancel context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[Queue]*queueWorker
	started bool
	closed  bool
}

type queueWorker struct {
	q      publishQueue
	cache  *msgCache
	cancel context.CancelFunc
	done   chan struct{}
	stored atomic.Int64 // offset last committed by commitLoop
}

// NewPushConsumer returns a consumer of group; Subscribe, then Start.
func NewPushConsumer(group string, opts ...Option) (*Consumer, error) {
	m, err := newMember(group, "CONSUME_PASSIVELY", opts)
	if err != nil {
		return nil, err
	}
	c := &Consumer{member: m, running: map[Queue]*queueWorker{}}
	m.cached = c.Cached
	return c, nil
}

// Subscribe registers a handler for a topic; expr is "*" or tags joined by
// "||". Call before Start.
func (c *Consumer) Subscribe(topic, expr string, h Handler) error {
	if c.started {
		return errors.New("client: Subscribe after Start")
	}
	c.subscribe(topic, expr, h)
	return nil
}

// Start registers with the brokers and starts consuming. A subscribed
// topic without a route fails with ErrTopicNotFound.
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if len(c.subs) == 0 {
		return errors.New("client: Start without a subscription")
	}
	if c.started {
		return errors.New("client: started twice")
	}
	if err := c.checkTopics(ctx); err != nil {
		return err
	}
	if !c.cfg.broadcasting {
		c.subscribe("%RETRY%"+c.cfg.group, "*", nil)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.started = true
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.hctx, c.hcancel = context.WithCancel(context.Background())
	c.heartbeat(ctx)
	c.wg.Go(func() { c.run(c.ctx, c.apply, c.renewLocks) })
	c.wg.Go(c.commitLoop)
	return nil
}

// commitInterval is how often a push consumer commits the offsets that
// moved, besides the commit carried by each pull: a queue whose cache is
// full is not pulled.
const commitInterval = 5 * time.Second

func (c *Consumer) commitLoop() {
	t := time.NewTicker(commitInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		workers := slices.Collect(maps.Values(c.running))
		c.mu.Unlock()
		for _, w := range workers {
			off := w.cache.consumed()
			if off <= 0 || off == w.stored.Load() {
				continue
			}
			if err := c.commit(c.ctx, w.q, off); err != nil {
				c.cfg.logger.Warn("offset commit failed", "err", err)
				continue
			}
			w.stored.Store(off)
		}
	}
}

// apply starts and stops queue workers to match the allocation. It
// reports whether a queue could not be taken yet.
func (c *Consumer) apply(want map[Queue]publishQueue) (incomplete bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, w := range c.running {
		if _, ok := want[q]; !ok {
			w.cancel()
			<-w.done
			delete(c.running, q)
		}
	}
	for q, pq := range want {
		if _, ok := c.running[q]; ok {
			continue
		}
		if c.cfg.orderly && !c.cfg.broadcasting && len(c.lock(pq.addr, []Queue{q})) == 0 {
			incomplete = true // held by a member that has not let go yet
			continue
		}
		ctx, cancel := context.WithCancel(c.ctx)
		w := &queueWorker{q: pq, cache: newMsgCache(pq, make(chan struct{}, 1)), cancel: cancel, done: make(chan struct{})}
		c.running[q] = w
		c.wg.Go(func() { defer close(w.done); c.work(ctx, w) })
	}
	return incomplete
}

// Cached returns the cached messages and bytes of each queue consumed.
func (c *Consumer) Cached() map[Queue]CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cacheStats(c.running, func(w *queueWorker) *msgCache { return w.cache })
}

// Close stops consuming: pulling stops, handlers in flight finish (their
// context is cancelled after the shutdown timeout), the offsets of what
// they consumed are committed, connections close. No goroutine is left
// behind. It is idempotent.
func (c *Consumer) Close() error {
	c.mu.Lock()
	started, closed := c.started, c.closed
	c.closed = true
	c.mu.Unlock()
	if closed {
		return nil
	}
	if started {
		c.cancel()
		grace := c.cfg.shutdown
		if grace <= 0 {
			grace = 30 * time.Second
		}
		t := time.AfterFunc(grace, c.hcancel)
		c.wg.Wait()
		t.Stop()
		c.hcancel()
	}
	return c.rc.Close()
}
