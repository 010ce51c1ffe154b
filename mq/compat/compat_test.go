package compat_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("error")
	os.Exit(m.Run())
}

// newProducer starts an official producer against the cluster.
func newProducer(t *testing.T, c *mqtest.Cluster, opts ...producer.Option) rocketProducer {
	t.Helper()
	opts = append([]producer.Option{
		producer.WithNameServer([]string{c.NamesrvAddr}),
		producer.WithGroupName(fmt.Sprintf("pg-%s-%d", t.Name(), time.Now().UnixNano())),
		producer.WithRetry(2),
	}, opts...)
	p, err := producer.NewDefaultProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

type rocketProducer interface {
	SendSync(ctx context.Context, mq ...*primitive.Message) (*primitive.SendResult, error)
	SendAsync(ctx context.Context, f func(ctx context.Context, result *primitive.SendResult, err error), mq ...*primitive.Message) error
	SendOneWay(ctx context.Context, mq ...*primitive.Message) error
}

// received collects what a consumer got.
type received struct {
	mu   sync.Mutex
	msgs []*primitive.MessageExt
	ch   chan struct{}
}

func newReceived() *received { return &received{ch: make(chan struct{}, 1)} }

func (r *received) add(msgs ...*primitive.MessageExt) {
	r.mu.Lock()
	r.msgs = append(r.msgs, msgs...)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *received) snapshot() []*primitive.MessageExt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*primitive.MessageExt(nil), r.msgs...)
}

// waitFor waits until cond holds on what arrived, or fails after d.
func (r *received) waitFor(t *testing.T, d time.Duration, what string, cond func([]*primitive.MessageExt) bool) []*primitive.MessageExt {
	t.Helper()
	deadline := time.After(d)
	for {
		got := r.snapshot()
		if cond(got) {
			return got
		}
		select {
		case <-r.ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s; got %d messages", d, what, len(got))
		}
	}
}

func atLeast(n int) func([]*primitive.MessageExt) bool {
	return func(m []*primitive.MessageExt) bool { return len(m) >= n }
}

// newPushConsumer starts an official push consumer; handle decides the
// result of each batch.
func newPushConsumer(t *testing.T, c *mqtest.Cluster, group, topic string, sel consumer.MessageSelector, r *received, opts ...consumer.Option) {
	t.Helper()
	opts = append([]consumer.Option{
		consumer.WithNameServer([]string{c.NamesrvAddr}),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	pc, err := consumer.NewPushConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	err = pc.Subscribe(topic, sel, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		r.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Shutdown() })
}

func TestCompatSendAndConsume(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c)
	ctx := context.Background()
	var want []string
	for i := range 10 {
		body := fmt.Sprintf("sync-%d", i)
		msg := primitive.NewMessage("CompatTopic", []byte(body))
		msg.WithTag("TagA")
		msg.WithKeys([]string{fmt.Sprint("key-", i)})
		res, err := p.SendSync(ctx, msg)
		if err != nil || res.Status != primitive.SendOK || res.MsgID == "" || len(res.OffsetMsgID) != 32 {
			t.Fatalf("SendSync %d: %v %v", i, res, err)
		}
		want = append(want, body)
	}
	var wg sync.WaitGroup
	for i := range 5 {
		body := fmt.Sprintf("async-%d", i)
		wg.Add(1)
		err := p.SendAsync(ctx, func(ctx context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || res.Status != primitive.SendOK {
				t.Errorf("async send: %v %v", res, err)
			}
		}, primitive.NewMessage("CompatTopic", []byte(body)).WithTag("TagA"))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, body)
	}
	wg.Wait()
	if err := p.SendOneWay(ctx, primitive.NewMessage("CompatTopic", []byte("oneway")).WithTag("TagA")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "oneway")
	batch := []*primitive.Message{}
	for i := range 4 {
		body := fmt.Sprintf("batch-%d", i)
		batch = append(batch, primitive.NewMessage("CompatTopic", []byte(body)).WithTag("TagA"))
		want = append(want, body)
	}
	if res, err := p.SendSync(ctx, batch...); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("batch: %v %v", res, err)
	}
	// Other tags must not arrive.
	p.SendSync(ctx, primitive.NewMessage("CompatTopic", []byte("tag-b")).WithTag("TagB"))

	r := newReceived()
	newPushConsumer(t, c, "cg-send", "CompatTopic", consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA"}, r)
	got := r.waitFor(t, 30*time.Second, "all TagA messages", atLeast(len(want)))
	seen := map[string]bool{}
	for _, m := range got {
		if m.GetTags() != "TagA" {
			t.Fatalf("got tag %q", m.GetTags())
		}
		seen[string(m.Body)] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("missing %q", w)
		}
	}
}

func TestCompatBroadcasting(t *testing.T) {
	c := mqtest.Start(t)
	t.Setenv("rocketmq.client.localOffsetStoreDir", t.TempDir())
	p := newProducer(t, c)
	p.SendSync(context.Background(), primitive.NewMessage("Bcast", []byte("warm-up"))) // create the topic
	r1, r2 := newReceived(), newReceived()
	for _, r := range []*received{r1, r2} {
		newPushConsumer(t, c, "cg-bcast", "Bcast", consumer.MessageSelector{}, r,
			consumer.WithConsumerModel(consumer.BroadCasting), consumer.WithInstance(fmt.Sprint("i", time.Now().UnixNano())))
	}
	for i := range 8 {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage("Bcast", []byte(fmt.Sprint("b", i)))); err != nil {
			t.Fatal(err)
		}
	}
	r1.waitFor(t, 30*time.Second, "consumer 1 to get everything", atLeast(8))
	r2.waitFor(t, 30*time.Second, "consumer 2 to get everything", atLeast(8))
}

// TestCompatClustering: two consumers of one group split the queues: each
// gets some messages, together all of them, none twice.
func TestCompatClustering(t *testing.T) {
	c := mqtest.Start(t)
	p := newProducer(t, c)
	p.SendSync(context.Background(), primitive.NewMessage("Split", []byte("create")))
	createTopic(t, c, "%RETRY%cg-split", 1)
	r1, r2 := newReceived(), newReceived()
	newPushConsumer(t, c, "cg-split", "Split", consumer.MessageSelector{}, r1, consumer.WithInstance("one"))
	newPushConsumer(t, c, "cg-split", "Split", consumer.MessageSelector{}, r2, consumer.WithInstance("two"))
	// Both members must be registered (and told to rebalance) before the
	// messages go out.
	cl := remoting.NewClient(remoting.ClientConfig{})
	defer cl.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := cl.Invoke(context.Background(), c.BrokerAddr, remoting.NewRequest(protocol.GetConsumerListByGroup, map[string]string{"consumerGroup": "cg-split"}, nil))
		if err == nil {
			if l, err := protocol.UnmarshalConsumerIDList(resp.Body); err == nil && len(l.ConsumerIDList) == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the two consumers did not both register")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Warm up until both consumers receive: then each holds its queues and
	// the rebalance has settled.
	for i := 0; len(r1.snapshot()) == 0 || len(r2.snapshot()) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("one consumer got nothing: %d / %d", len(r1.snapshot()), len(r2.snapshot()))
		}
		p.SendSync(context.Background(), primitive.NewMessage("Split", []byte(fmt.Sprint("warm", i))))
		time.Sleep(20 * time.Millisecond)
	}
	const n = 40
	for i := range n {
		msg := primitive.NewMessage("Split", []byte(fmt.Sprint("m", i)))
		if _, err := p.SendSync(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	all := func([]*primitive.MessageExt) bool {
		seen := map[string]bool{}
		for _, m := range append(r1.snapshot(), r2.snapshot()...) {
			if strings.HasPrefix(string(m.Body), "m") {
				seen[string(m.Body)] = true
			}
		}
		return len(seen) >= n
	}
	r1.waitFor(t, 30*time.Second, "every message across both consumers", all)
	count := func(r *received) int {
		k := 0
		for _, m := range r.snapshot() {
			if strings.HasPrefix(string(m.Body), "m") {
				k++
			}
		}
		return k
	}
	if c1, c2 := count(r1), count(r2); c1 == 0 || c2 == 0 || c1+c2 != n {
		t.Fatalf("split %d / %d of %d: both consumers must share the queues, none twice", c1, c2, n)
	}
}
