package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

func newPullConsumer(t *testing.T, c *mqtest.Cluster, group string, opts ...client.Option) *client.PullConsumer {
	t.Helper()
	pc, err := client.NewPullConsumer(group, append([]client.Option{client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// poll polls until n messages arrived, and returns their bodies.
func poll(t *testing.T, pc *client.PullConsumer, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		msgs, err := pc.Poll(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		for _, m := range msgs {
			out = append(out, string(m.Body))
		}
	}
	return out
}

// pollNothing checks that nothing arrives within a short wait.
func pollNothing(t *testing.T, pc *client.PullConsumer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if msgs, err := pc.Poll(ctx); !errors.Is(err, client.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll with nothing to return: %d messages, %v", len(msgs), err)
	}
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%05d", prefix, i))
	}
	return out
}

func sendBodies(t *testing.T, p *client.Producer, topic string, bodies []string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := p.Send(context.Background(), &client.Message{Topic: topic, Body: []byte(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

// Two members share a topic's queues; each message is polled once; the
// auto-committed offsets let a later member resume after them.
func TestPullConsumerSubscribe(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "LP", 4)
	p := newProducer(t, c)
	a := newPullConsumer(t, c, "cg-lp")
	b := newPullConsumer(t, c, "cg-lp")
	for _, pc := range []*client.PullConsumer{a, b} {
		if err := pc.Subscribe("LP", "*"); err != nil {
			t.Fatal(err)
		}
		if err := pc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, "two queues each", func() bool {
		qa, qb := a.Assignment(), b.Assignment()
		return len(qa) == 2 && len(qb) == 2 && !slices.ContainsFunc(qa, func(q client.Queue) bool { return slices.Contains(qb, q) })
	})
	sendBodies(t, p, "LP", numbered("m", 0, 40))
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	perMember := map[*client.PullConsumer]int{}
	for len(got) < 40 {
		for _, pc := range []*client.PullConsumer{a, b} {
			pctx, pcancel := context.WithTimeout(ctx, 50*time.Millisecond)
			msgs, err := pc.Poll(pctx)
			pcancel()
			if err != nil && ctx.Err() != nil {
				t.Fatalf("polled %d of 40: %v", len(got), err)
			}
			for _, m := range msgs {
				got[string(m.Body)]++
				perMember[pc]++
			}
		}
	}
	for body, n := range got {
		if n != 1 {
			t.Fatalf("%s polled %d times", body, n)
		}
	}
	if perMember[a] != 20 || perMember[b] != 20 {
		t.Fatalf("polled %d and %d messages, want 20 each (round robin sends, two queues each)", perMember[a], perMember[b])
	}
	a.Close()
	b.Close()
	sendBodies(t, p, "LP", []string{"after"})
	c2 := newPullConsumer(t, c, "cg-lp")
	c2.Subscribe("LP", "*")
	if err := c2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := poll(t, c2, 1); got[0] != "after" {
		t.Fatalf("after a restart of the group: %v", got)
	}
}

func TestPullConsumerAssignAndSeek(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Seek", 1)
	p := newProducer(t, c)
	between := oldAndNewBodies(t, p, "Seek")
	pc := newPullConsumer(t, c, "cg-seek", client.WithAutoCommit(0))
	qs, err := pc.Queues(context.Background(), "Seek")
	if err != nil || len(qs) != 1 {
		t.Fatalf("queues: %v %v", qs, err)
	}
	q := qs[0]
	if err := pc.Assign(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got := poll(t, pc, 10); !slices.Equal(got, bodies("old", "new")) {
		t.Fatalf("first polls: %v", got)
	}
	pollNothing(t, pc)
	steps := []struct {
		seek func() error
		want string
	}{
		{func() error { return pc.SeekToBeginning(ctx, q) }, "old-0"},
		{func() error { return pc.Seek(ctx, q, 7) }, "new-2"},
		{func() error { return pc.SeekToTime(ctx, q, between) }, "new-0"},
	}
	for i, s := range steps {
		if err := s.seek(); err != nil {
			t.Fatalf("seek %d: %v", i, err)
		}
		if got := poll(t, pc, 1); got[0] != s.want {
			t.Fatalf("after seek %d: %v, want %s first", i, got, s.want)
		}
	}
	if err := pc.SeekToEnd(ctx, q); err != nil {
		t.Fatal(err)
	}
	pollNothing(t, pc)
	sendBodies(t, p, "Seek", []string{"latest"})
	if got := poll(t, pc, 1); !slices.Equal(got, []string{"latest"}) {
		t.Fatalf("after SeekToEnd: %v", got)
	}
	if err := pc.Seek(ctx, q, 12); err == nil {
		t.Fatal("seek past the end accepted")
	}
	if err := pc.Seek(ctx, client.Queue{Topic: "Seek", Broker: q.Broker, QueueID: 3}, 0); !errors.Is(err, client.ErrNotAssigned) {
		t.Fatalf("seek of another queue: %v", err)
	}
}

// oldAndNewBodies sends old-0..4 and new-0..4 and returns a time between.
func oldAndNewBodies(t *testing.T, p *client.Producer, topic string) time.Time {
	t.Helper()
	sendBodies(t, p, topic, bodies("old"))
	time.Sleep(20 * time.Millisecond) // store times are in milliseconds
	between := time.Now()
	time.Sleep(20 * time.Millisecond)
	sendBodies(t, p, topic, bodies("new"))
	return between
}

// With auto-commit off, only Commit stores offsets: a member that closes
// without committing leaves its messages to the next one.
func TestPullConsumerManualCommit(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Manual", 1)
	sendBodies(t, newProducer(t, c), "Manual", numbered("m", 0, 12))
	start := func() *client.PullConsumer {
		pc := newPullConsumer(t, c, "cg-manual", client.WithAutoCommit(0), client.WithPullBatchSize(4))
		pc.Subscribe("Manual", "*")
		if err := pc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return pc
	}
	pc := start()
	if got := poll(t, pc, 4); !slices.Equal(got, numbered("m", 0, 4)) {
		t.Fatalf("first poll: %v", got)
	}
	if err := pc.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := poll(t, pc, 4); !slices.Equal(got, numbered("m", 4, 8)) {
		t.Fatalf("second poll: %v", got)
	}
	pc.Close() // without committing m00004..m00007
	pc = start()
	if got := poll(t, pc, 8); !slices.Equal(got, numbered("m", 4, 12)) {
		t.Fatalf("after a restart: %v", got)
	}
}

func TestPullConsumerPauseResume(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Pause", 2)
	p := newProducer(t, c)
	for q := range int32(2) {
		for i := range 3 {
			_, err := p.Send(context.Background(), &client.Message{Topic: "Pause", Body: fmt.Appendf(nil, "q%d-%d", q, i)},
				client.WithSelector(func([]client.Queue, *client.Message) int { return int(q) }))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	pc := newPullConsumer(t, c, "cg-pause")
	qs, _ := pc.Queues(context.Background(), "Pause")
	if err := pc.Assign(context.Background(), qs...); err != nil {
		t.Fatal(err)
	}
	if err := pc.Pause(qs[1]); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := poll(t, pc, 3); !slices.Equal(got, []string{"q0-0", "q0-1", "q0-2"}) {
		t.Fatalf("with q1 paused: %v", got)
	}
	pollNothing(t, pc)
	if err := pc.Resume(qs[1]); err != nil {
		t.Fatal(err)
	}
	if got := poll(t, pc, 3); !slices.Equal(got, []string{"q1-0", "q1-1", "q1-2"}) {
		t.Fatalf("after Resume: %v", got)
	}
}
