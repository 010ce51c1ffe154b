package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// collector records consumed bodies.
type collector struct {
	mu   sync.Mutex
	seen map[string]int
}

func newCollector() *collector { return &collector{seen: map[string]int{}} }

// handle counts each message; fail says which bodies to fail (the whole
// batch is then sent back).
func (c *collector) handle(fail func(body string, seen int) bool) client.Handler {
	return func(ctx context.Context, msgs []*client.MessageExt) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		var err error
		for _, m := range msgs {
			c.seen[string(m.Body)]++
			if fail != nil && fail(string(m.Body), c.seen[string(m.Body)]) {
				err = errors.New("try again later")
			}
		}
		return err
	}
}

func (c *collector) count(body string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[body]
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newConsumer(t *testing.T, c *mqtest.Cluster, group, topic, expr string, h client.Handler, opts ...client.Option) *client.Consumer {
	t.Helper()
	cons, err := client.NewPushConsumer(group, append([]client.Option{client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Subscribe(topic, expr, h); err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cons.Close() })
	return cons
}

func TestConsumerReceivesAndFilters(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "C", 4)
	p := newProducer(t, c)
	for i := range 20 {
		tag := "A"
		if i%2 == 1 {
			tag = "B"
		}
		if _, err := p.Send(context.Background(), &client.Message{Topic: "C", Body: []byte(fmt.Sprint(tag, i)), Tags: tag}); err != nil {
			t.Fatal(err)
		}
	}
	col := newCollector()
	newConsumer(t, c, "cg", "C", "A", col.handle(nil))
	waitUntil(t, 10*time.Second, "ten A messages", func() bool { return col.distinct() == 10 })
	if col.count("B1") != 0 {
		t.Fatal("a B message passed the A filter")
	}
}

func TestConsumerRetriesFailures(t *testing.T) {
	c := mqtest.Start(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) {
		cfg.MessageDelayLevel = nil
		for i := range 18 {
			cfg.MessageDelayLevel = append(cfg.MessageDelayLevel, time.Duration(i+1)*100*time.Millisecond)
		}
	}))
	createTopic(t, c, "R", 4)
	p := newProducer(t, c)
	p.Send(context.Background(), &client.Message{Topic: "R", Body: []byte("flaky")})
	col := newCollector()
	newConsumer(t, c, "cg-r", "R", "*", col.handle(func(_ string, seen int) bool { return seen < 3 }), client.WithMaxReconsumeTimes(5))
	waitUntil(t, 15*time.Second, "the third delivery", func() bool { return col.count("flaky") >= 3 })
}

func TestConsumerGroupResumes(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "S", 4)
	p := newProducer(t, c)
	p.Send(context.Background(), &client.Message{Topic: "S", Body: []byte("m0")})
	col := newCollector()
	c1 := newConsumer(t, c, "cg-s", "S", "*", col.handle(nil))
	waitUntil(t, 10*time.Second, "m0", func() bool { return col.count("m0") == 1 })
	c1.Close() // commits its offsets
	for i := 1; i <= 5; i++ {
		p.Send(context.Background(), &client.Message{Topic: "S", Body: []byte(fmt.Sprint("m", i))})
	}
	newConsumer(t, c, "cg-s", "S", "*", col.handle(nil))
	waitUntil(t, 10*time.Second, "m1..m5", func() bool { return col.distinct() == 6 })
	if col.count("m0") != 1 {
		t.Fatalf("m0 delivered %d times after a restart of the consumer", col.count("m0"))
	}
}

// The group's retry topic mixes the messages of all its topics; each
// redelivery reaches the handler of its own topic.
func TestConsumerRetriesReachTheirTopicsHandler(t *testing.T) {
	c := mqtest.Start(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) {
		cfg.MessageDelayLevel = nil
		for i := range 18 {
			cfg.MessageDelayLevel = append(cfg.MessageDelayLevel, time.Duration(i+1)*100*time.Millisecond)
		}
	}))
	createTopic(t, c, "RA", 1)
	createTopic(t, c, "RB", 1)
	p := newProducer(t, c)
	for i := range 4 {
		sendBodies(t, p, "RA", []string{fmt.Sprint("a", i)})
		sendBodies(t, p, "RB", []string{fmt.Sprint("b", i)})
	}
	var mu sync.Mutex
	seen := map[string]int{}
	wrong := []string{}
	handler := func(topic string) client.Handler {
		return func(ctx context.Context, msgs []*client.MessageExt) error {
			mu.Lock()
			defer mu.Unlock()
			fail := false
			for _, m := range msgs {
				if m.Topic != topic {
					wrong = append(wrong, topic+" got "+string(m.Body))
				}
				seen[string(m.Body)]++
				fail = fail || seen[string(m.Body)] == 1
			}
			if fail {
				return errors.New("first delivery fails")
			}
			return nil
		}
	}
	cons, err := client.NewPushConsumer("cg-two", client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst())
	if err != nil {
		t.Fatal(err)
	}
	cons.Subscribe("RA", "*", handler("RA"))
	cons.Subscribe("RB", "*", handler("RB"))
	if err := cons.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	waitUntil(t, 20*time.Second, "every message delivered twice", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, v := range seen {
			if v >= 2 {
				n++
			}
		}
		return n == 8
	})
	mu.Lock()
	defer mu.Unlock()
	if len(wrong) > 0 {
		t.Fatalf("messages reached another topic's handler: %v", wrong)
	}
}

// WithPullBatchSize: one pull brings up to that many messages, so the handler
// sees batches larger than the default 32; out-of-range sizes are refused.
func TestConsumerPullBatch(t *testing.T) {
	for _, n := range []int{0, -1, 1025} {
		if _, err := client.NewPushConsumer("g", client.WithNameServers("127.0.0.1:1"), client.WithPullBatchSize(n)); err == nil {
			t.Errorf("WithPullBatchSize(%d) accepted", n)
		}
	}
	c := mqtest.Start(t)
	p := newProducer(t, c)
	var batch []*client.Message
	for i := range 200 {
		batch = append(batch, &client.Message{Topic: "PB", Body: []byte(fmt.Sprint(i))})
	}
	// One batch send puts all 200 in one queue before the consumer starts.
	if _, err := p.SendBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	largest, total := 0, 0
	newConsumer(t, c, "pb", "PB", "*", func(_ context.Context, msgs []*client.MessageExt) error {
		mu.Lock()
		defer mu.Unlock()
		largest, total = max(largest, len(msgs)), total+len(msgs)
		return nil
	}, client.WithPullBatchSize(128))
	waitUntil(t, 10*time.Second, "200 messages", func() bool { mu.Lock(); defer mu.Unlock(); return total >= 200 })
	mu.Lock()
	defer mu.Unlock()
	if largest != 128 {
		t.Fatalf("largest batch handed to the handler: %d messages, want 128 (one pull)", largest)
	}
}
