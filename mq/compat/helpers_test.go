package compat_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// brokerName is the name mqtest's broker runs under (broker.Config's
// default).
const brokerName = "broker-a"

// instances numbers client instances. The official client shares one
// instance (connections, heartbeats, background tasks) between all
// producers and consumers of a process that have the same instance name;
// tests give each producer and consumer its own, because sharing one
// across tests with different NameServers is refused, and creating a
// second user of a running instance is a data race inside the client
// (GetOrNewRocketMQClient rewrites the shared instance's fields).
var instances atomic.Int64

func newInstanceName() string { return fmt.Sprintf("compat-%d", instances.Add(1)) }

// startProducer starts an official producer on its own client instance;
// options given override the defaults.
func startProducer(t *testing.T, c *mqtest.Cluster, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	p, err := producer.NewDefaultProducer(append([]producer.Option{
		producer.WithNameServer([]string{c.NamesrvAddr}),
		producer.WithGroupName("pg"),
		producer.WithInstanceName(newInstanceName()),
		producer.WithRetry(2),
	}, opts...)...)
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("start producer: %v", err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// sendSync sends and fails the test unless the broker stored the messages.
func sendSync(t *testing.T, p rocketmq.Producer, msgs ...*primitive.Message) *primitive.SendResult {
	t.Helper()
	res, err := p.SendSync(context.Background(), msgs...)
	if err != nil {
		t.Fatalf("SendSync to %s: %v", msgs[0].Topic, err)
	}
	if res.Status != primitive.SendOK {
		t.Fatalf("SendSync to %s: status %v, want SendOK (%v)", msgs[0].Topic, res.Status, res)
	}
	return res
}

// delivery is one message as a consumer callback saw it, and when.
type delivery struct {
	msg *primitive.MessageExt
	at  time.Time
}

// inbox collects what a consumer's callback receives.
type inbox struct {
	mu   sync.Mutex
	got  []delivery
	wake chan struct{}
}

func newInbox() *inbox { return &inbox{wake: make(chan struct{}, 1)} }

func (b *inbox) add(msgs ...*primitive.MessageExt) {
	now := time.Now()
	b.mu.Lock()
	for _, m := range msgs {
		b.got = append(b.got, delivery{m, now})
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// callback records every batch and answers result.
func (b *inbox) callback(result consumer.ConsumeResult) func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	return func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		b.add(msgs...)
		return result, nil
	}
}

func (b *inbox) deliveries() []delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

func (b *inbox) messages() []*primitive.MessageExt {
	var out []*primitive.MessageExt
	for _, d := range b.deliveries() {
		out = append(out, d.msg)
	}
	return out
}

// bodies counts deliveries per body.
func (b *inbox) bodies() map[string]int {
	n := map[string]int{}
	for _, d := range b.deliveries() {
		n[string(d.msg.Body)]++
	}
	return n
}

// waitFor polls until cond holds for what arrived and returns it; it
// fails the test after timeout, describing what it waited for.
func (b *inbox) waitFor(t *testing.T, timeout time.Duration, what string, cond func([]delivery) bool) []delivery {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got := b.deliveries()
		if cond(got) {
			return got
		}
		select {
		case <-b.wake:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("after %v still waiting for %s; %d deliveries: %s", timeout, what, len(got), summarize(got))
		}
	}
}

// waitBodies waits until every body in want has been delivered at least
// once.
func (b *inbox) waitBodies(t *testing.T, timeout time.Duration, want ...string) []delivery {
	t.Helper()
	return b.waitFor(t, timeout, fmt.Sprintf("bodies %q", want), func(got []delivery) bool {
		seen := map[string]bool{}
		for _, d := range got {
			seen[string(d.msg.Body)] = true
		}
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	})
}

func summarize(ds []delivery) string {
	const max = 20
	var s []string
	for i, d := range ds {
		if i == max {
			s = append(s, fmt.Sprintf("... %d more", len(ds)-max))
			break
		}
		body := string(d.msg.Body)
		if len(body) > 24 {
			body = body[:24] + "..."
		}
		s = append(s, fmt.Sprintf("%q(q%d@%d tag=%q)", body, queueID(d.msg), d.msg.QueueOffset, d.msg.GetTags()))
	}
	return fmt.Sprint(s)
}

func queueID(m *primitive.MessageExt) int {
	if m.Queue == nil {
		return -1
	}
	return m.Queue.QueueId
}

// waitUntil polls cond every 20ms until it holds, failing after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v still waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pushConsumer builds an official push consumer on its own client
// instance, subscribed to topic, starting from the first offset unless opts
// say otherwise. It is not started.
func pushConsumer(t *testing.T, c *mqtest.Cluster, group, topic string, sel consumer.MessageSelector,
	f func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error), opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	pc, err := consumer.NewPushConsumer(append([]consumer.Option{
		consumer.WithNameServer([]string{c.NamesrvAddr}),
		consumer.WithGroupName(group),
		consumer.WithInstance(newInstanceName()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)...)
	if err != nil {
		t.Fatalf("new push consumer: %v", err)
	}
	if err := pc.Subscribe(topic, sel, f); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	return pc
}

// startPushConsumer is pushConsumer, started.
func startPushConsumer(t *testing.T, c *mqtest.Cluster, group, topic string, sel consumer.MessageSelector,
	f func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error), opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	pc := pushConsumer(t, c, group, topic, sel, f, opts...)
	if err := pc.Start(); err != nil {
		t.Fatalf("start push consumer of %s on %s: %v", group, topic, err)
	}
	return pc
}

var all = consumer.MessageSelector{}

func tags(expr string) consumer.MessageSelector {
	return consumer.MessageSelector{Type: consumer.TAG, Expression: expr}
}

// adminMu serializes the official admin clients: admin.NewAdmin has no
// instance-name option, so every admin of the process shares one client
// instance, which refuses a second NameServer list while it exists.
var adminMu sync.Mutex

// withAdmin runs f with an official admin client of the cluster.
func withAdmin(t *testing.T, c *mqtest.Cluster, f func(admin.Admin)) {
	t.Helper()
	withAdminAt(t, c.NamesrvAddr, f)
}

// withAdminAt runs f with an official admin client of the NameServer at
// namesrv.
func withAdminAt(t *testing.T, namesrv string, f func(admin.Admin)) {
	t.Helper()
	adminMu.Lock()
	defer adminMu.Unlock()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{namesrv})))
	if err != nil {
		t.Fatalf("new admin: %v", err)
	}
	defer a.Close()
	f(a)
}

// topicList returns the NameServer's topic list.
func topicList(t *testing.T, c *mqtest.Cluster) []string {
	t.Helper()
	return topicListAt(t, c.NamesrvAddr)
}

func topicListAt(t *testing.T, namesrv string) []string {
	t.Helper()
	var list []string
	withAdminAt(t, namesrv, func(a admin.Admin) {
		l, err := a.FetchAllTopicList(context.Background())
		if err != nil {
			t.Fatalf("FetchAllTopicList: %v", err)
		}
		list = l.TopicList
	})
	return list
}

// waitTopicListed waits until the NameServer lists topic (listed = true)
// or no longer lists it.
func waitTopicListed(t *testing.T, c *mqtest.Cluster, topic string, listed bool) {
	t.Helper()
	waitTopicListedAt(t, c.NamesrvAddr, topic, listed)
}

func waitTopicListedAt(t *testing.T, namesrv, topic string, listed bool) {
	t.Helper()
	waitUntil(t, 10*time.Second, fmt.Sprintf("NameServer topic list to contain %s: %v", topic, listed), func() bool {
		return slices.Contains(topicListAt(t, namesrv), topic) == listed
	})
}

// createTopic creates a topic on the broker with the official admin and
// waits until the NameServer lists it.
func createTopic(t *testing.T, c *mqtest.Cluster, topic string, queues int) {
	t.Helper()
	withAdmin(t, c, func(a admin.Admin) {
		err := a.CreateTopic(context.Background(), admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(c.BrokerAddr),
			admin.WithReadQueueNums(queues), admin.WithWriteQueueNums(queues))
		if err != nil {
			t.Fatalf("CreateTopic %s: %v", topic, err)
		}
	})
	waitTopicListed(t, c, topic, true)
}

// shortDelays makes delay level L last L*step.
func shortDelays(step time.Duration) mqtest.Option {
	return mqtest.WithBrokerConfig(func(cfg *broker.Config) {
		cfg.MessageDelayLevel = nil
		for l := 1; l <= 18; l++ {
			cfg.MessageDelayLevel = append(cfg.MessageDelayLevel, time.Duration(l)*step)
		}
	})
}

// mqtestStart starts a NameServer and a Broker for one test. With
// COMPAT_BROKER_LOG set, the broker's debug log goes to the test's output.
func mqtestStart(t *testing.T, opts ...mqtest.Option) *mqtest.Cluster {
	t.Helper()
	if os.Getenv("COMPAT_BROKER_LOG") != "" {
		opts = append([]mqtest.Option{mqtest.WithBrokerConfig(func(cfg *broker.Config) {
			cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
		})}, opts...)
	}
	return mqtest.Start(t, opts...)
}

// committedOffsets sums, over the topic's queues, the group's offsets
// committed on the broker and the queues' max offsets. It asks with
// Surge's own admin client: the official one has no such call.
func committedOffsets(t *testing.T, c *mqtest.Cluster, group, topic string) (committed, max int64) {
	t.Helper()
	a, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	progress, err := a.ConsumerProgress(context.Background(), group, topic)
	if err != nil {
		t.Fatalf("consumer progress of %s on %s: %v", group, topic, err)
	}
	for _, o := range progress {
		committed += o.ConsumerOffset
		max += o.BrokerOffset
	}
	return committed, max
}
