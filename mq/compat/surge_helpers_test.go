package compat_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// surgeInbox collects what a Surge push consumer's handler receives.
type surgeInbox struct {
	mu  sync.Mutex
	got []*client.MessageExt
}

// handle records every batch and consumes it successfully.
func (b *surgeInbox) handle(_ context.Context, msgs []*client.MessageExt) error {
	b.mu.Lock()
	b.got = append(b.got, msgs...)
	b.mu.Unlock()
	return nil
}

func (b *surgeInbox) messages() []*client.MessageExt {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

// bodies counts deliveries per body.
func (b *surgeInbox) bodies() map[string]int {
	n := map[string]int{}
	for _, m := range b.messages() {
		n[string(m.Body)]++
	}
	return n
}

// waitCount waits until at least n messages arrived and returns them.
func (b *surgeInbox) waitCount(t *testing.T, timeout time.Duration, n int) []*client.MessageExt {
	t.Helper()
	waitUntil(t, timeout, fmt.Sprintf("%d messages at the Surge consumer", n), func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.got) >= n
	})
	return b.messages()
}

// startSurgeConsumer starts a Surge push consumer of group on topic,
// filtering by expr and starting from the first offset; options given come
// after the defaults.
func startSurgeConsumer(t *testing.T, c *mqtest.Cluster, group, topic, expr string, h client.Handler, opts ...client.Option) *client.Consumer {
	t.Helper()
	cons, err := client.NewPushConsumer(group, append([]client.Option{client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst()}, opts...)...)
	if err != nil {
		t.Fatalf("new Surge consumer: %v", err)
	}
	if err := cons.Subscribe(topic, expr, h); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	if err := cons.Start(context.Background()); err != nil {
		t.Fatalf("start Surge consumer of %s on %s: %v", group, topic, err)
	}
	t.Cleanup(func() { cons.Close() })
	return cons
}

// newSurgeProducer returns a Surge producer of the cluster, closed with the
// test.
func newSurgeProducer(t *testing.T, c *mqtest.Cluster) *client.Producer {
	t.Helper()
	p, err := client.NewProducer(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// storedMessages counts the messages the broker's store holds in a topic's
// queues (0 to queues-1).
func storedMessages(c *mqtest.Cluster, topic string, queues int) int64 {
	var n int64
	for q := range queues {
		n += c.Broker.Store().MaxOffset(topic, int32(q))
	}
	return n
}

// keyOrder checks that each key's sequence numbers arrive as 0, 1, 2, ...
// with none missing or repeated: seqs lists (key, number) in arrival order.
// It returns the first violation, or an error if a key fell short of
// perKey.
func keyOrder(seqs [][2]int, keys, perKey int) error {
	next := make([]int, keys)
	for _, s := range seqs {
		k, i := s[0], s[1]
		if k < 0 || k >= keys {
			return fmt.Errorf("unknown key %d", k)
		}
		if i != next[k] {
			return fmt.Errorf("key %d: message %d arrived when %d was due (order broken, lost or duplicated)", k, i, next[k])
		}
		next[k]++
	}
	for k, n := range next {
		if n != perKey {
			return fmt.Errorf("key %d: %d of %d messages arrived", k, n, perKey)
		}
	}
	return nil
}
