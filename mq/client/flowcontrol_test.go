package client_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// createTopic creates a topic with n queues and waits until the NameServer
// routes it.
func createTopic(t *testing.T, c *mqtest.Cluster, topic string, n int32) {
	t.Helper()
	a, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(context.Background(), "", client.TopicConfig{Name: topic, ReadQueueNums: n, WriteQueueNums: n}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the topic's route", func() bool {
		_, err := a.TopicRoute(context.Background(), topic)
		return err == nil
	})
}

// sendN sends n messages with bodies of size bytes to topic.
func sendN(t *testing.T, p *client.Producer, topic string, n, size int) {
	t.Helper()
	for i := range n {
		body := append([]byte(fmt.Sprintf("%05d", i)), bytes.Repeat([]byte("x"), size-5)...)
		if _, err := p.Send(context.Background(), &client.Message{Topic: topic, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
}

// cacheWatch samples a consumer's cache of one topic until stopped and
// keeps the largest figures seen.
type cacheWatch struct {
	maxMsgs  atomic.Int64
	maxBytes atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func watchCache(cons interface {
	Cached() map[client.Queue]client.CacheStats
}, topic string) *cacheWatch {
	w := &cacheWatch{stop: make(chan struct{})}
	w.wg.Go(func() {
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			w.sample(cons, topic)
			time.Sleep(time.Millisecond)
		}
	})
	return w
}

func (w *cacheWatch) sample(cons interface {
	Cached() map[client.Queue]client.CacheStats
}, topic string) (msgs, bytes int64) {
	for q, s := range cons.Cached() {
		if q.Topic == topic {
			msgs, bytes = int64(s.Messages), s.Bytes
		}
	}
	if msgs > w.maxMsgs.Load() {
		w.maxMsgs.Store(msgs)
	}
	if bytes > w.maxBytes.Load() {
		w.maxBytes.Store(bytes)
	}
	return msgs, bytes
}

func (w *cacheWatch) close() { close(w.stop); w.wg.Wait() }

// A handler slower than the backlog fills the queue's cache up to the
// thresholds, never beyond, and every message still arrives.
func TestPushConsumerFlowControl(t *testing.T) {
	for _, tc := range []struct {
		name        string
		msgs, bytes int
		size, batch int
		maxMsgs     int64 // bounds of the cache
		maxBytes    int64
	}{
		// The message cap is exact: a pull asks for no more than fits.
		{name: "messages", msgs: 50, bytes: 100 << 20, size: 100, batch: 8, maxMsgs: 50, maxBytes: 50 * 100},
		// Pulling stops once the bytes reach the cap: at most one pull over.
		{name: "bytes", msgs: 1000, bytes: 10_000, size: 1000, batch: 4, maxMsgs: 10 + 4, maxBytes: 10_000 + 4*1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mqtest.Start(t)
			createTopic(t, c, "Flow", 1)
			const total = 200
			sendN(t, newProducer(t, c, client.WithCompressOver(-1)), "Flow", total, tc.size)
			release := make(chan struct{})
			var consumed atomic.Int64
			h := func(ctx context.Context, msgs []*client.MessageExt) error {
				select {
				case <-release:
				case <-ctx.Done():
				}
				consumed.Add(int64(len(msgs)))
				return nil
			}
			cons := newConsumer(t, c, "cg-flow", "Flow", "*", h, client.WithPullThresholds(tc.msgs, tc.bytes), client.WithPullBatchSize(tc.batch))
			w := watchCache(cons, "Flow")
			defer w.close()
			// With the handler blocked, the cache fills to the cap and stays.
			waitUntil(t, 10*time.Second, "a full cache", func() bool {
				n, b := w.sample(cons, "Flow")
				return n >= int64(tc.msgs) || b >= int64(tc.bytes)
			})
			deadline := time.After(20 * time.Second)
			for consumed.Load() < total {
				select {
				case release <- struct{}{}:
				case <-time.After(10 * time.Millisecond): // look at consumed again
				case <-deadline:
					t.Fatalf("consumed %d of %d: the queue stopped being pulled", consumed.Load(), total)
				}
			}
			if m, b := w.maxMsgs.Load(), w.maxBytes.Load(); m > tc.maxMsgs || b > tc.maxBytes {
				t.Fatalf("cache reached %d messages, %d bytes; caps %d, %d", m, b, tc.maxMsgs, tc.maxBytes)
			}
		})
	}
}

// The pull consumer prefetches each queue up to the thresholds while
// nobody polls, and refills as Poll drains it.
func TestPullConsumerPrefetchIsBounded(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "PFlow", 1)
	const total = 100
	sendN(t, newProducer(t, c), "PFlow", total, 100)
	pc := newPullConsumer(t, c, "cg-pflow", client.WithPullThresholds(10, 1<<20), client.WithPullBatchSize(4))
	pc.Subscribe("PFlow", "*")
	if err := pc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := watchCache(pc, "PFlow")
	defer w.close()
	waitUntil(t, 10*time.Second, "a full prefetch cache", func() bool {
		n, _ := w.sample(pc, "PFlow")
		return n == 10
	})
	got := poll(t, pc, total)
	for i, b := range got {
		if b[:5] != fmt.Sprintf("%05d", i) {
			t.Fatalf("message %d is %s", i, b[:5])
		}
	}
	if m := w.maxMsgs.Load(); m > 10 {
		t.Fatalf("prefetch cache reached %d messages, cap 10", m)
	}
}
