package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// consumeFrom is where a group without a stored offset starts.
type consumeFrom int

const (
	fromLast consumeFrom = iota
	fromFirst
	fromTimestamp
)

// WithConsumeFromFirst starts a new group at the oldest message instead of
// the newest.
func WithConsumeFromFirst() Option { return func(c *config) { c.from = fromFirst } }

// WithConsumeFromTimestamp starts a new group at the first message stored
// at or after t. Queues the group has an offset for resume there.
func WithConsumeFromTimestamp(t time.Time) Option {
	return func(c *config) { c.from, c.fromTime = fromTimestamp, t }
}

// member is one client of a consumer group: it registers with the
// brokers, computes its share of the subscribed queues, and reads and
// stores the group's offsets. The push and the pull consumer both use it.
type member struct {
	cfg    config
	id     string
	rc     *remoting.Client
	routes *routes
	// consumeType is CONSUME_PASSIVELY (push) or CONSUME_ACTIVELY (pull).
	consumeType string
	subs        map[string]*subscription // fixed once started
	rebal       chan struct{}
	// cached reports the queues held and their caches, for
	// GET_CONSUMER_RUNNING_INFO; set by the consumer that owns the member.
	cached  func() map[Queue]CacheStats
	started time.Time
}

func newMember(group, consumeType string, opts []Option) (*member, error) {
	cfg := config{group: group, timeout: 3 * time.Second, maxReconsume: 16, pullBatch: 32,
		cacheMsgs: defaultCacheMsgs, cacheBytes: defaultCacheBytes, allocate: AllocateAveragely}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.namesrvs) == 0 || group == "" {
		return nil, errors.New("client: a consumer needs WithNameServers and a group")
	}
	if cfg.pullBatch < 1 || cfg.pullBatch > maxPullBatch {
		return nil, fmt.Errorf("client: WithPullBatchSize(%d): want 1 to %d messages per pull", cfg.pullBatch, maxPullBatch)
	}
	if cfg.cacheMsgs <= 0 || cfg.cacheBytes <= 0 {
		return nil, errors.New("client: pull thresholds must be positive")
	}
	cfg.logger = loggerOrDiscard(cfg.logger)
	m := &member{
		cfg: cfg, consumeType: consumeType,
		id:      fmt.Sprintf("%s@%d@%x", localIPv4(), os.Getpid(), rand.Uint32()),
		subs:    map[string]*subscription{},
		rebal:   make(chan struct{}, 1),
		started: time.Now(),
	}
	m.rc = remoting.NewClient(remoting.ClientConfig{Logger: cfg.logger, Handler: remoting.HandlerFunc(m.serve)})
	m.routes = &routes{rc: m.rc, namesrvs: cfg.namesrvs, timeout: cfg.timeout, byTopic: map[string]routeEntry{}}
	return m, nil
}

func (m *member) subscribe(topic, expr string, h Handler) {
	m.subs[topic] = &subscription{topic: topic, expr: expr, tags: protocol.ParseTagExpression(expr), handler: h}
}

// serve answers the broker's requests: a rebalance notice.
func (m *member) serve(ctx context.Context, conn *remoting.Conn, req *remoting.Command) *remoting.Command {
	switch req.Code {
	case protocol.NotifyConsumerIDsChanged:
		signal(m.rebal)
	case protocol.GetConsumerRunningInfo:
		return m.runningInfo(req)
	}
	return nil
}

// runningInfo answers GET_CONSUMER_RUNNING_INFO (relayed by a broker from
// an admin tool) with the queues this member holds, so that tools can say
// which client owns which queue.
func (m *member) runningInfo(req *remoting.Command) *remoting.Command {
	if g := req.Ext("consumerGroup"); g != m.cfg.group {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("no consumer of group %q in this client", g))
	}
	info := protocol.ConsumerRunningInfo{
		Properties: map[string]string{
			"PROP_CONSUME_TYPE":             m.consumeType,
			"PROP_CLIENT_VERSION":           "surge",
			"PROP_NAMESERVER_ADDR":          strings.Join(m.cfg.namesrvs, ";"),
			"PROP_CONSUMEORDERLY":           strconv.FormatBool(m.cfg.orderly),
			"PROP_CONSUMER_START_TIMESTAMP": strconv.FormatInt(m.started.UnixMilli(), 10),
		},
		MQTable: map[protocol.MessageQueue]protocol.ProcessQueueInfo{},
	}
	if m.cached != nil {
		for q, st := range m.cached() {
			info.MQTable[protocol.MessageQueue{Topic: q.Topic, BrokerName: q.Broker, QueueID: q.QueueID}] = protocol.ProcessQueueInfo{
				CachedMsgCount: st.Messages, CachedMsgSizeInMiB: int(st.Bytes >> 20), Locked: m.cfg.orderly,
			}
		}
	}
	body, err := info.Marshal()
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp
}

// checkTopics fails if a subscribed topic has no route.
func (m *member) checkTopics(ctx context.Context) error {
	for topic := range m.subs {
		if strings.HasPrefix(topic, "%RETRY%") {
			continue
		}
		if _, err := m.routes.fetch(ctx, topic); err != nil {
			return fmt.Errorf("subscribe %s: %w", topic, err)
		}
	}
	return nil
}

// run heartbeats every 30 s and rebalances every 20 s, on notice, and a
// second after an incomplete rebalance, until ctx ends. apply starts and
// stops the work on the queues wanted; tick runs every 20 s.
func (m *member) run(ctx context.Context, apply func(want map[Queue]publishQueue) (incomplete bool), tick func()) {
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
		case <-ctx.Done():
			return
		case <-hb.C:
			m.heartbeat(ctx)
			continue
		case <-rb.C:
			tick()
		case <-m.rebal:
		case <-soon.C:
		}
		want, incomplete := m.allocate(ctx)
		if apply(want) || incomplete {
			soon.Reset(time.Second)
		}
	}
}

func (m *member) brokers(ctx context.Context) map[string]string {
	addrs := map[string]string{}
	for topic := range m.subs {
		qs, err := m.routes.readQueues(ctx, topic)
		if err != nil {
			continue
		}
		for _, q := range qs {
			addrs[q.Broker] = q.addr
		}
	}
	return addrs
}

func (m *member) heartbeat(ctx context.Context) {
	model := "CLUSTERING"
	if m.cfg.broadcasting {
		model = "BROADCASTING"
	}
	from := [...]string{fromLast: "CONSUME_FROM_LAST_OFFSET", fromFirst: "CONSUME_FROM_FIRST_OFFSET", fromTimestamp: "CONSUME_FROM_TIMESTAMP"}[m.cfg.from]
	cd := protocol.ConsumerData{GroupName: m.cfg.group, ConsumeType: m.consumeType, MessageModel: model, ConsumeFromWhere: from}
	for _, s := range m.subs {
		sd := protocol.SubscriptionData{Topic: s.topic, SubString: s.expr, ExpressionType: protocol.ExpressionTag, SubVersion: time.Now().UnixMilli()}
		sd.Normalize()
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, sd)
	}
	body, _ := (&protocol.HeartbeatData{ClientID: m.id, ConsumerDataSet: []protocol.ConsumerData{cd}}).Marshal()
	for _, addr := range m.brokers(ctx) {
		if _, err := m.call(ctx, addr, protocol.HeartBeat, nil, body); err != nil {
			m.cfg.logger.Warn("heartbeat failed", "addr", addr, "err", err)
		}
	}
}

// allocate computes this member's queues of every subscribed topic. It
// reports whether a topic had no route yet or did not list this member.
func (m *member) allocate(ctx context.Context) (want map[Queue]publishQueue, incomplete bool) {
	want = map[Queue]publishQueue{}
	for topic := range m.subs {
		qs, err := m.routes.readQueues(ctx, topic)
		if err != nil || len(qs) == 0 {
			incomplete = true
			continue
		}
		if m.cfg.broadcasting {
			for _, q := range qs {
				want[q.Queue] = q
			}
			continue
		}
		members := m.members(ctx, qs[0].addr)
		if !slices.Contains(members, m.id) {
			incomplete = true // our heartbeat has not arrived yet
			continue
		}
		plain := make([]Queue, len(qs))
		byQueue := make(map[Queue]publishQueue, len(qs))
		for i, q := range qs {
			plain[i], byQueue[q.Queue] = q.Queue, q
		}
		for _, q := range m.cfg.allocate(plain, members, m.id) {
			if pq, ok := byQueue[q]; ok {
				want[q] = pq
			}
		}
	}
	return want, incomplete
}

// members lists the group's clients, sorted.
func (m *member) members(ctx context.Context, addr string) []string {
	resp, err := m.call(ctx, addr, protocol.GetConsumerListByGroup, map[string]string{"consumerGroup": m.cfg.group}, nil)
	if err != nil {
		return nil
	}
	l, err := protocol.UnmarshalConsumerIDList(resp.Body)
	if err != nil {
		return nil
	}
	slices.Sort(l.ConsumerIDList)
	return l.ConsumerIDList
}

// call sends a request bounded by the configured timeout and turns an
// error response into a *BrokerError.
func (m *member) call(ctx context.Context, addr string, code int16, ext map[string]string, body []byte) (*remoting.Command, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.timeout)
	defer cancel()
	return call(ctx, m.rc, addr, remoting.NewRequest(code, ext, body))
}

// offsetCall asks a broker for one of a queue's offsets.
func (m *member) offsetCall(ctx context.Context, q publishQueue, code int16, ext map[string]string) (int64, error) {
	resp, err := m.call(ctx, q.addr, code, ext, nil)
	if err != nil {
		return 0, err
	}
	off, err := strconv.ParseInt(resp.Ext("offset"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("offset of %v from %s: %w", q.Queue, q.addr, err)
	}
	return off, nil
}

func (m *member) minOffset(ctx context.Context, q publishQueue) (int64, error) {
	return m.offsetCall(ctx, q, protocol.GetMinOffset, protocol.TopicQueueRequestHeader{Topic: q.Topic, QueueID: q.QueueID}.Ext())
}

func (m *member) maxOffset(ctx context.Context, q publishQueue) (int64, error) {
	return m.offsetCall(ctx, q, protocol.GetMaxOffset, protocol.TopicQueueRequestHeader{Topic: q.Topic, QueueID: q.QueueID}.Ext())
}

func (m *member) offsetAt(ctx context.Context, q publishQueue, t time.Time) (int64, error) {
	return m.offsetCall(ctx, q, protocol.SearchOffsetByTimestamp, protocol.SearchOffsetRequestHeader{Topic: q.Topic, QueueID: q.QueueID, Timestamp: t.UnixMilli()}.Ext())
}

// startOffset decides where a queue starts, as the official clients do:
// the group's stored offset; without one, the oldest message for
// CONSUME_FROM_FIRST, the newest for CONSUME_FROM_LAST (0 for a retry
// topic), the first stored at the timestamp for CONSUME_FROM_TIMESTAMP
// (the newest for a retry topic). Failures are retried until ctx ends.
func (m *member) startOffset(ctx context.Context, q publishQueue) (int64, error) {
	for {
		off, err := m.tryStartOffset(ctx, q)
		if err == nil || ctx.Err() != nil {
			return off, err
		}
		m.cfg.logger.Warn("start offset unknown, will retry", "topic", q.Topic, "queueId", q.QueueID, "err", err)
		sleep(ctx, time.Second)
	}
}

func (m *member) tryStartOffset(ctx context.Context, q publishQueue) (int64, error) {
	if !m.cfg.broadcasting {
		h := protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: m.cfg.group, Topic: q.Topic, QueueID: q.QueueID}
		off, err := m.offsetCall(ctx, q, protocol.QueryConsumerOffset, h.Ext())
		var be *BrokerError
		if err == nil || !errors.As(err, &be) || be.Code != protocol.QueryNotFound {
			return off, err
		}
	}
	retry := strings.HasPrefix(q.Topic, "%RETRY%")
	switch {
	case m.cfg.from == fromFirst, m.cfg.from == fromLast && retry:
		return 0, nil
	case m.cfg.from == fromTimestamp && !retry:
		return m.offsetAt(ctx, q, m.cfg.fromTime)
	}
	return m.maxOffset(ctx, q)
}

// commit stores a queue's offset on its broker (clustering only).
func (m *member) commit(ctx context.Context, q publishQueue, off int64) error {
	if m.cfg.broadcasting {
		return nil
	}
	h := protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: m.cfg.group, Topic: q.Topic, QueueID: q.QueueID, CommitOffset: off}
	if _, err := m.call(ctx, q.addr, protocol.UpdateConsumerOffset, h.Ext(), nil); err != nil {
		return fmt.Errorf("commit offset %d of %s/%s/%d: %w", off, q.Topic, q.Broker, q.QueueID, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Allocator decides which queues of a topic one member of a consumer group
// consumes. queues and members are sorted the same way on every member
// (queues by broker name then queue ID; members as strings), and every
// member must use the same Allocator, or some queues are consumed twice
// and others not at all.
type Allocator func(queues []Queue, members []string, me string) []Queue

// AllocateAveragely gives each member a contiguous block of queues, the
// first len(queues)%len(members) members one more. It assigns exactly what
// the official clients' AllocateMessageQueueAveragely assigns, so Surge and
// Apache RocketMQ clients can share a group. It is the default.
func AllocateAveragely(queues []Queue, members []string, me string) []Queue {
	idx := slices.Index(members, me)
	if idx < 0 || len(queues) == 0 {
		return nil
	}
	n := len(members)
	per, extra := len(queues)/n, len(queues)%n
	start := idx*per + min(idx, extra)
	size := per
	if idx < extra {
		size++
	}
	return queues[start:min(start+size, len(queues))]
}

// AllocateAveragelyByCircle deals the queues out to the members like cards:
// member i gets queues i, i+n, i+2n... It matches the official clients'
// AllocateMessageQueueAveragelyByCircle, and spreads each broker's queues
// over the members when topics live on several brokers.
func AllocateAveragelyByCircle(queues []Queue, members []string, me string) []Queue {
	idx := slices.Index(members, me)
	if idx < 0 {
		return nil
	}
	var out []Queue
	for i := idx; i < len(queues); i += len(members) {
		out = append(out, queues[i])
	}
	return out
}

// WithAllocation sets how a clustering consumer group shares queues.
// Default AllocateAveragely.
func WithAllocation(a Allocator) Option { return func(c *config) { c.allocate = a } }
