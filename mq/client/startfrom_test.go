package client_test

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

// oldAndNew sends old-0..old-4, then new-0..new-4 to a one-queue topic and
// returns a time between the two groups' store times.
func oldAndNew(t *testing.T, c *mqtest.Cluster, topic string) time.Time {
	t.Helper()
	createTopic(t, c, topic, 1)
	p := newProducer(t, c)
	send := func(prefix string) {
		for i := range 5 {
			if _, err := p.Send(context.Background(), &client.Message{Topic: topic, Body: fmt.Appendf(nil, "%s-%d", prefix, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send("old")
	time.Sleep(20 * time.Millisecond) // store times are in milliseconds
	between := time.Now()
	time.Sleep(20 * time.Millisecond)
	send("new")
	return between
}

// received collects bodies in arrival order.
type received struct {
	mu     sync.Mutex
	bodies []string
}

func (r *received) handle(ctx context.Context, msgs []*client.MessageExt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.bodies = append(r.bodies, string(m.Body))
	}
	return nil
}

func (r *received) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

func bodies(prefixes ...string) []string {
	var out []string
	for _, p := range prefixes {
		for i := range 5 {
			out = append(out, fmt.Sprintf("%s-%d", p, i))
		}
	}
	return out
}

// A new group starts where its consume-from setting says; like Apache
// RocketMQ, a queue whose first message is still stored is consumed from
// its start by a CONSUME_FROM_LAST group too.
func TestConsumeFrom(t *testing.T) {
	c := mqtest.Start(t)
	between := oldAndNew(t, c, "From")
	for _, tc := range []struct {
		group string
		opt   client.Option
		want  []string
	}{
		{"cg-from-ts", client.WithConsumeFromTimestamp(between), bodies("new")},
		{"cg-from-ts-old", client.WithConsumeFromTimestamp(between.Add(-time.Hour)), bodies("old", "new")},
		{"cg-from-first", client.WithConsumeFromFirst(), bodies("old", "new")},
		{"cg-from-last", client.WithLogger(nil), bodies("old", "new")}, // the default setting
	} {
		var r received
		cons, err := client.NewPushConsumer(tc.group, client.WithNameServers(c.NamesrvAddr), tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		cons.Subscribe("From", "*", r.handle)
		if err := cons.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, tc.group+"'s messages", func() bool { return len(r.get()) >= len(tc.want) })
		cons.Close()
		if got := r.get(); !slices.Equal(got, tc.want) {
			t.Errorf("%s received %v, want %v", tc.group, got, tc.want)
		}
	}
}

// A group with a stored offset resumes there, whatever its setting.
func TestConsumeFromTimestampResumes(t *testing.T) {
	c := mqtest.Start(t)
	between := oldAndNew(t, c, "Resume")
	var r received
	opts := []client.Option{client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromTimestamp(between.Add(-time.Hour))}
	first, _ := client.NewPushConsumer("cg-resume", opts...)
	first.Subscribe("Resume", "*", r.handle)
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "ten messages", func() bool { return len(r.get()) == 10 })
	first.Close()
	p := newProducer(t, c)
	p.Send(context.Background(), &client.Message{Topic: "Resume", Body: []byte("after")})
	second, _ := client.NewPushConsumer("cg-resume", opts...)
	second.Subscribe("Resume", "*", r.handle)
	if err := second.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	waitUntil(t, 10*time.Second, "the message sent after the restart", func() bool { return len(r.get()) >= 11 })
	if got := r.get(); !slices.Equal(got, append(bodies("old", "new"), "after")) {
		t.Fatalf("received %v", got)
	}
}
