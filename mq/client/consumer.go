package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Consumer options.

// WithBroadcasting makes every member of the group receive every message
// (offsets are kept in memory). Default: clustering, where the group's
// members share the queues.
func WithBroadcasting() Option { return func(c *config) { c.broadcasting = true } }

// WithConsumeFromFirst starts a new group at the oldest message instead of
// the newest.
func WithConsumeFromFirst() Option { return func(c *config) { c.fromFirst = true } }

// WithMaxReconsumeTimes bounds redeliveries of a failed message before the
// broker moves it to the group's dead-letter topic. Default 16.
func WithMaxReconsumeTimes(n int) Option { return func(c *config) { c.maxReconsume = n } }

// WithPullBatch sets how many messages one pull asks a queue for, 1 to
// maxPullBatch (the broker also stops a pull at 256 KiB); the handler gets
// at most that many at a time. Default 32, as the Java client's
// pullBatchSize. Larger pulls drain a backlog in fewer round trips.
func WithPullBatch(n int) Option { return func(c *config) { c.pullBatch = n } }

// maxPullBatch is the most messages a pull may ask for (Java's limit of
// pullBatchSize).
const maxPullBatch = 1024

// WithOrderly consumes each queue in order: a queue is consumed by one
// member at a time (locked on the broker, renewed every 20 s), batches are
// handled one after the other, and a failed batch is retried in place up to
// retries times before it goes to the retry topic.
func WithOrderly(retries int) Option {
	return func(c *config) { c.orderly, c.localRetries = true, retries }
}

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
// topics' queues with long polling and hands messages to the handlers.
type Consumer struct {
	cfg     config
	id      string
	rc      *remoting.Client
	routes  *routes
	subs    map[string]*subscription
	rebal   chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[Queue]*queueWorker
	started bool
}

type queueWorker struct {
	q      publishQueue
	cancel context.CancelFunc
	done   chan struct{}
	offset int64 // next offset to consume; owned by the worker
}

// NewPushConsumer returns a consumer of group; Subscribe, then Start.
func NewPushConsumer(group string, opts ...Option) (*Consumer, error) {
	cfg := config{group: group, timeout: 3 * time.Second, maxReconsume: 16, pullBatch: 32}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.namesrvs) == 0 || group == "" {
		return nil, errors.New("client: a consumer needs WithNameServers and a group")
	}
	if cfg.pullBatch < 1 || cfg.pullBatch > maxPullBatch {
		return nil, fmt.Errorf("client: WithPullBatch(%d): want 1 to %d messages per pull", cfg.pullBatch, maxPullBatch)
	}
	if cfg.logger == nil {
		cfg.logger = loggerOrDiscard(nil)
	}
	c := &Consumer{
		cfg:     cfg,
		id:      fmt.Sprintf("%s@%d@%x", localIPv4(), os.Getpid(), rand.Uint32()),
		subs:    map[string]*subscription{},
		rebal:   make(chan struct{}, 1),
		running: map[Queue]*queueWorker{},
	}
	c.rc = remoting.NewClient(remoting.ClientConfig{Logger: cfg.logger, Handler: remoting.HandlerFunc(c.serve)})
	c.routes = &routes{rc: c.rc, namesrvs: cfg.namesrvs, timeout: cfg.timeout, byTopic: map[string]routeEntry{}}
	return c, nil
}

// Subscribe registers a handler for a topic; expr is "*" or tags joined by
// "||". Call before Start.
func (c *Consumer) Subscribe(topic, expr string, h Handler) error {
	if c.started {
		return errors.New("client: Subscribe after Start")
	}
	c.subs[topic] = &subscription{topic: topic, expr: expr, tags: protocol.ParseTagExpression(expr), handler: h}
	return nil
}

// serve answers the broker's requests: a rebalance notice.
func (c *Consumer) serve(ctx context.Context, conn *remoting.Conn, req *remoting.Command) *remoting.Command {
	if req.Code == protocol.NotifyConsumerIDsChanged {
		c.kick()
	}
	return nil
}

func (c *Consumer) kick() {
	select {
	case c.rebal <- struct{}{}:
	default:
	}
}

// Start registers with the brokers and starts consuming.
func (c *Consumer) Start(ctx context.Context) error {
	if len(c.subs) == 0 {
		return errors.New("client: Start without a subscription")
	}
	if !c.cfg.broadcasting {
		retry := "%RETRY%" + c.cfg.group
		c.subs[retry] = &subscription{topic: retry, expr: "*", handler: nil}
	}
	for topic := range c.subs {
		if strings.HasPrefix(topic, "%RETRY%") {
			continue
		}
		if _, err := c.routes.fetch(ctx, topic); err != nil {
			return fmt.Errorf("subscribe %s: %w", topic, err)
		}
	}
	c.started = true
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.heartbeat(ctx)
	c.wg.Go(c.loop)
	return nil
}

// loop heartbeats every 30 s and rebalances every 20 s and on notice.
func (c *Consumer) loop() {
	hb := time.NewTicker(30 * time.Second)
	defer hb.Stop()
	rb := time.NewTicker(20 * time.Second)
	defer rb.Stop()
	// A topic without a route yet (the retry topic right after the first
	// heartbeat) is looked at again in a second, not 20.
	soon := time.NewTimer(0)
	defer soon.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-hb.C:
			c.heartbeat(c.ctx)
			continue
		case <-rb.C:
			c.renewLocks()
		case <-c.rebal:
		case <-soon.C:
		}
		if c.rebalance() {
			soon.Reset(time.Second)
		}
	}
}

func (c *Consumer) brokers() map[string]string {
	addrs := map[string]string{}
	for topic := range c.subs {
		qs, err := c.routes.readQueues(c.ctx, topic)
		if err != nil {
			continue
		}
		for _, q := range qs {
			addrs[q.Broker] = q.addr
		}
	}
	return addrs
}

func (c *Consumer) heartbeat(ctx context.Context) {
	model := "CLUSTERING"
	if c.cfg.broadcasting {
		model = "BROADCASTING"
	}
	from := "CONSUME_FROM_LAST_OFFSET"
	if c.cfg.fromFirst {
		from = "CONSUME_FROM_FIRST_OFFSET"
	}
	cd := protocol.ConsumerData{GroupName: c.cfg.group, ConsumeType: "CONSUME_PASSIVELY", MessageModel: model, ConsumeFromWhere: from}
	for _, s := range c.subs {
		sd := protocol.SubscriptionData{Topic: s.topic, SubString: s.expr, ExpressionType: protocol.ExpressionTag, SubVersion: time.Now().UnixMilli()}
		sd.Normalize()
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, sd)
	}
	body, _ := (&protocol.HeartbeatData{ClientID: c.id, ConsumerDataSet: []protocol.ConsumerData{cd}}).Marshal()
	for _, addr := range c.brokers() {
		hctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		if _, err := c.rc.Invoke(hctx, addr, remoting.NewRequest(protocol.HeartBeat, nil, body)); err != nil {
			c.cfg.logger.Warn("heartbeat failed", "addr", addr, "err", err)
		}
		cancel()
	}
}

// rebalance computes this member's queues (average allocation over the
// sorted members and queues) and starts or stops their workers. It reports
// whether a topic had no route yet.
func (c *Consumer) rebalance() (incomplete bool) {
	want := map[Queue]publishQueue{}
	for topic := range c.subs {
		qs, err := c.routes.readQueues(c.ctx, topic)
		if err != nil || len(qs) == 0 {
			incomplete = true
			continue
		}
		if c.cfg.broadcasting {
			for _, q := range qs {
				want[q.Queue] = q
			}
			continue
		}
		members := c.members(qs[0].addr)
		idx := slices.Index(members, c.id)
		if idx < 0 {
			incomplete = true // our heartbeat has not arrived yet
			continue
		}
		for _, q := range allocateAverage(qs, len(members), idx) {
			want[q.Queue] = q
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, w := range c.running {
		if _, ok := want[q]; !ok {
			w.cancel()
			<-w.done
			delete(c.running, q)
			if c.cfg.orderly {
				c.unlock(w.q.addr, []Queue{q})
			}
		}
	}
	for q, pq := range want {
		if _, ok := c.running[q]; !ok {
			if c.cfg.orderly && !c.cfg.broadcasting && len(c.lock(pq.addr, []Queue{q})) == 0 {
				incomplete = true // held by a member that has not let go yet
				continue
			}
			ctx, cancel := context.WithCancel(c.ctx)
			w := &queueWorker{q: pq, cancel: cancel, done: make(chan struct{})}
			c.running[q] = w
			c.wg.Go(func() { defer close(w.done); c.work(ctx, w) })
		}
	}
	return incomplete
}

// allocateAverage gives member idx of n its contiguous share of qs.
func allocateAverage(qs []publishQueue, n, idx int) []publishQueue {
	per, extra := len(qs)/n, len(qs)%n
	start := idx*per + min(idx, extra)
	size := per
	if idx < extra {
		size++
	}
	return qs[start:min(start+size, len(qs))]
}

func (c *Consumer) members(addr string) []string {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.timeout)
	defer cancel()
	resp, err := c.rc.Invoke(ctx, addr, remoting.NewRequest(protocol.GetConsumerListByGroup, map[string]string{"consumerGroup": c.cfg.group}, nil))
	if err != nil || resp.Code != protocol.Success {
		return nil
	}
	l, err := protocol.UnmarshalConsumerIDList(resp.Body)
	if err != nil {
		return nil
	}
	slices.Sort(l.ConsumerIDList)
	return l.ConsumerIDList
}

// lock asks a broker for exclusive use of queues and returns those granted.
func (c *Consumer) lock(addr string, qs []Queue) []Queue {
	body := protocol.LockBatchRequestBody{ConsumerGroup: c.cfg.group, ClientID: c.id}
	for _, q := range qs {
		body.MQSet = append(body.MQSet, protocol.MessageQueue{Topic: q.Topic, BrokerName: q.Broker, QueueID: q.QueueID})
	}
	b, _ := body.Marshal()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.timeout)
	defer cancel()
	resp, err := c.rc.Invoke(ctx, addr, remoting.NewRequest(protocol.LockBatchMQ, nil, b))
	if err != nil || resp.Code != protocol.Success {
		return nil
	}
	res, err := protocol.UnmarshalLockBatchResponseBody(resp.Body)
	if err != nil {
		return nil
	}
	var out []Queue
	for _, mq := range res.LockOKMQSet {
		out = append(out, Queue{Topic: mq.Topic, Broker: mq.BrokerName, QueueID: mq.QueueID})
	}
	return out
}

func (c *Consumer) unlock(addr string, qs []Queue) {
	body := protocol.UnlockBatchRequestBody{ConsumerGroup: c.cfg.group, ClientID: c.id}
	for _, q := range qs {
		body.MQSet = append(body.MQSet, protocol.MessageQueue{Topic: q.Topic, BrokerName: q.Broker, QueueID: q.QueueID})
	}
	b, _ := body.Marshal()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	c.rc.Invoke(ctx, addr, remoting.NewRequest(protocol.UnlockBatchMQ, nil, b))
}

// renewLocks renews the locks of the queues being consumed (the broker
// lets a lock lapse 60 s after its last renewal).
func (c *Consumer) renewLocks() {
	if !c.cfg.orderly || c.cfg.broadcasting {
		return
	}
	c.mu.Lock()
	byAddr := map[string][]Queue{}
	for q, w := range c.running {
		byAddr[w.q.addr] = append(byAddr[w.q.addr], q)
	}
	c.mu.Unlock()
	for addr, qs := range byAddr {
		c.lock(addr, qs)
	}
}
