package client

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Message is what a producer sends.
type Message struct {
	Topic string
	Body  []byte
	// Tags is the message's tag, used by consumers to filter.
	Tags string
	// Keys are business keys, indexed by the broker for queries.
	Keys []string
	// DelayLevel delays delivery (1 = 1s ... 18 = 2h); 0 is none.
	DelayLevel int
	// Properties are extra user properties.
	Properties map[string]string
	// Flag is a user flag stored with the message.
	Flag int32
}

// SendStatus is the broker's verdict on a stored message.
type SendStatus int

const (
	SendOK SendStatus = iota
	// SendFlushDiskTimeout: stored, but not yet on disk (SYNC_FLUSH broker).
	SendFlushDiskTimeout
)

// SendResult describes a stored message.
type SendResult struct {
	Status SendStatus
	// MsgID is the message's unique ID (empty for batches).
	MsgID string
	// OffsetMsgID is the broker's ID (comma-separated for batches).
	OffsetMsgID string
	Queue       Queue
	QueueOffset int64
}

// Selector picks the queue of a message among the writable ones.
type Selector func(queues []Queue, m *Message) int

// ByKey selects the queue by a hash of key, so that every message with
// the same key lands in the same queue (ordered messages).
func ByKey(key string) Selector {
	return func(queues []Queue, _ *Message) int {
		h := fnv.New32a()
		h.Write([]byte(key))
		return int(h.Sum32() % uint32(len(queues)))
	}
}

// Option configures a Producer or a Consumer.
type Option func(*config)

type config struct {
	namesrvs     []string
	group        string
	retries      int
	timeout      time.Duration
	compressOver int
	logger       *slog.Logger
	// consumer settings (consumer.go)
	broadcasting bool
	from         consumeFrom
	fromTime     time.Time
	maxReconsume int
	pullBatch    int
	cacheMsgs    int
	cacheBytes   int64
	allocate     Allocator
	orderly      bool
	localRetries int
	shutdown     time.Duration
	// pull consumer settings (pullconsumer.go)
	autoCommit time.Duration
}

// WithNameServers sets the NameServer addresses (required).
func WithNameServers(addrs ...string) Option {
	return func(c *config) { c.namesrvs = addrs }
}

// WithGroup sets the producer group. Default "DEFAULT_PRODUCER".
func WithGroup(g string) Option { return func(c *config) { c.group = g } }

// WithRetries sets how many times a failed send is retried on another
// queue or broker. Default 2.
func WithRetries(n int) Option { return func(c *config) { c.retries = n } }

// WithSendTimeout bounds each attempt. Default 3s.
func WithSendTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithCompressOver compresses bodies larger than n bytes. Default 4096;
// negative disables compression.
func WithCompressOver(n int) Option { return func(c *config) { c.compressOver = n } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Producer sends messages. It is safe for concurrent use; Close releases
// its connections and waits for asynchronous sends.
type Producer struct {
	cfg    config
	rc     *remoting.Client
	routes *routes
	ids    *idGen
	rr     atomic.Uint32

	faultMu sync.Mutex
	avoid   map[string]time.Time // broker name -> avoided until

	wg     sync.WaitGroup
	mu     sync.RWMutex // guards closed against new async sends
	closed bool
}

// NewProducer returns a producer. It connects lazily, on the first send.
func NewProducer(opts ...Option) (*Producer, error) {
	return newProducer(nil, opts)
}

// newProducer builds a producer whose connections serve the brokers'
// requests with h (transaction checks), if any.
func newProducer(h remoting.Handler, opts []Option) (*Producer, error) {
	cfg := config{group: "DEFAULT_PRODUCER", retries: 2, timeout: 3 * time.Second, compressOver: 4096}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.namesrvs) == 0 {
		return nil, errors.New("client: WithNameServers is required")
	}
	cfg.logger = loggerOrDiscard(cfg.logger)
	rc := remoting.NewClient(remoting.ClientConfig{Logger: cfg.logger, Handler: h})
	return &Producer{
		cfg: cfg, rc: rc, ids: newIDGen(), avoid: map[string]time.Time{},
		routes: &routes{rc: rc, namesrvs: cfg.namesrvs, timeout: cfg.timeout, byTopic: map[string]routeEntry{}},
	}, nil
}

// SendOption adjusts one send.
type SendOption func(*sendOptions)

type sendOptions struct {
	selector      Selector
	transactional bool // a half message (transaction.go)
}

// WithSelector picks the queue with sel (see ByKey for ordered messages).
func WithSelector(sel Selector) SendOption { return func(o *sendOptions) { o.selector = sel } }

// Send sends one message and returns once the broker stored it.
func (p *Producer) Send(ctx context.Context, m *Message, opts ...SendOption) (*SendResult, error) {
	return p.send(ctx, []*Message{m}, false, opts)
}

// SendBatch sends messages of one topic in one request; they land in one
// queue, in order.
func (p *Producer) SendBatch(ctx context.Context, msgs []*Message, opts ...SendOption) (*SendResult, error) {
	if len(msgs) == 0 {
		return nil, errors.New("client: empty batch")
	}
	for _, m := range msgs[1:] {
		if m.Topic != msgs[0].Topic {
			return nil, errors.New("client: a batch must have one topic")
		}
	}
	return p.send(ctx, msgs, false, opts)
}

// SendOneway sends without waiting for the broker's answer.
func (p *Producer) SendOneway(ctx context.Context, m *Message, opts ...SendOption) error {
	_, err := p.send(ctx, []*Message{m}, true, opts)
	return err
}

// SendAsync sends in the background and calls done with the outcome.
// Close waits for outstanding sends.
func (p *Producer) SendAsync(ctx context.Context, m *Message, done func(*SendResult, error), opts ...SendOption) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	p.wg.Go(func() { done(p.Send(ctx, m, opts...)) })
	return nil
}

// Close releases the producer's connections after asynchronous sends end.
func (p *Producer) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
	return p.rc.Close()
}

func (p *Producer) send(ctx context.Context, msgs []*Message, oneway bool, opts []SendOption) (*SendResult, error) {
	p.mu.RLock()
	closed := p.closed
	p.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	var o sendOptions
	for _, f := range opts {
		f(&o)
	}
	topic := msgs[0].Topic
	queues, err := p.routes.publishQueues(ctx, topic)
	if err != nil {
		return nil, err
	}
	body, ext, msgID, err := p.encode(msgs)
	if err != nil {
		return nil, err
	}
	if o.transactional {
		ext.SysFlag |= protocol.TransactionPrep
	}
	var last error
	var lastBroker string
	for attempt := 0; attempt <= p.cfg.retries; attempt++ {
		q := p.pick(queues, msgs[0], o.selector, lastBroker)
		ext.QueueID = q.QueueID
		code := protocol.SendMessage
		e := ext.Ext()
		if len(msgs) > 1 {
			code, e = protocol.SendBatchMessage, ext.ExtV2()
		}
		req := remoting.NewRequest(code, e, body)
		actx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
		start := time.Now()
		if oneway {
			err = p.rc.InvokeOneway(actx, q.addr, req)
			cancel()
			return nil, timeout(err)
		}
		resp, err := invoke(actx, p.rc, q.addr, req)
		cancel()
		if err == nil {
			var res *SendResult
			if res, err = sendResult(q, resp, msgID); err == nil {
				if time.Since(start) > time.Second {
					p.penalize(q.Broker, 30*time.Second) // slow: prefer others for a while
				}
				return res, nil
			}
		}
		last, lastBroker = err, q.Broker
		p.penalize(q.Broker, 10*time.Second)
		if ctx.Err() != nil || !retriable(err) {
			break
		}
	}
	return nil, fmt.Errorf("send to %s: %w", topic, last)
}

func (p *Producer) penalize(broker string, d time.Duration) {
	p.faultMu.Lock()
	p.avoid[broker] = time.Now().Add(d)
	p.faultMu.Unlock()
}

func (p *Producer) avoided(broker string) bool {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	return time.Now().Before(p.avoid[broker])
}

// pick chooses a queue: the selector's, or round robin avoiding the broker
// that just failed and brokers in their penalty time.
func (p *Producer) pick(queues []publishQueue, m *Message, sel Selector, lastBroker string) publishQueue {
	if sel != nil {
		plain := make([]Queue, len(queues))
		for i, q := range queues {
			plain[i] = q.Queue
		}
		return queues[sel(plain, m)%len(queues)]
	}
	n := len(queues)
	start := int(p.rr.Add(1))
	for i := range n {
		q := queues[(start+i)%n]
		if q.Broker != lastBroker && !p.avoided(q.Broker) {
			return q
		}
	}
	return queues[start%n]
}

// encode builds the request header and body of a send.
func (p *Producer) encode(msgs []*Message) ([]byte, protocol.SendMessageHeader, string, error) {
	h := protocol.SendMessageHeader{
		ProducerGroup: p.cfg.group, Topic: msgs[0].Topic, DefaultTopic: autoCreateTopic, DefaultTopicQueueNums: 4,
		BornTimestamp: time.Now().UnixMilli(),
	}
	if len(msgs) == 1 {
		m := msgs[0]
		id := p.ids.next()
		h.Properties = properties(m, id)
		h.Flag = m.Flag
		body := m.Body
		if p.cfg.compressOver >= 0 && len(body) > p.cfg.compressOver {
			var buf bytes.Buffer
			w, _ := zlib.NewWriterLevel(&buf, 5)
			w.Write(body)
			w.Close()
			body, h.SysFlag = buf.Bytes(), protocol.FlagCompressed
		}
		return body, h, id, nil
	}
	h.Batch = true
	// Sized once: growing by append copied the batch several times over
	// (a third of the encoding time for 32 messages of 1 KiB).
	size := 0
	for _, m := range msgs {
		size += len(m.Body) + batchRecordOverhead
	}
	body := make([]byte, 0, size)
	var err error
	for _, m := range msgs {
		if m.DelayLevel > 0 {
			return nil, h, "", errors.New("client: batch messages cannot be delayed")
		}
		body, err = protocol.AppendBatchMessage(body, protocol.BatchMessage{Flag: m.Flag, Body: m.Body, Properties: properties(m, p.ids.next())})
		if err != nil {
			return nil, h, "", fmt.Errorf("encode batch: %w", err)
		}
	}
	return body, h, "", nil
}

// batchRecordOverhead is a generous estimate of a batch record's bytes
// besides its body: the fixed fields and typical properties.
const batchRecordOverhead = 128

func properties(m *Message, id string) string {
	props := make(map[string]string, len(m.Properties)+4)
	for k, v := range m.Properties {
		props[k] = v
	}
	if m.Tags != "" {
		props[protocol.PropertyTags] = m.Tags
	}
	if len(m.Keys) > 0 {
		props[protocol.PropertyKeys] = strings.Join(m.Keys, protocol.KeySeparator)
	}
	if m.DelayLevel > 0 {
		props[protocol.PropertyDelayLevel] = strconv.Itoa(m.DelayLevel)
	}
	props[protocol.PropertyUniqKey] = id
	return protocol.MarshalProperties(props)
}

func sendResult(q publishQueue, resp *remoting.Command, msgID string) (*SendResult, error) {
	res := &SendResult{MsgID: msgID, Queue: q.Queue, OffsetMsgID: resp.Ext("msgId")}
	switch resp.Code {
	case protocol.Success:
	case protocol.FlushDiskTimeout:
		res.Status = SendFlushDiskTimeout
	default:
		return nil, &BrokerError{Addr: q.addr, Code: resp.Code, Remark: resp.Remark}
	}
	if qid, err := strconv.Atoi(resp.Ext("queueId")); err == nil {
		res.Queue.QueueID = int32(qid)
	}
	res.QueueOffset, _ = strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
	return res, nil
}
