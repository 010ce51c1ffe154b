package client_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// Close lets the handler in flight finish, then commits what it consumed:
// the group's next member starts after it.
func TestPushConsumerCloseFinishesInFlight(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Grace", 1)
	sendBodies(t, newProducer(t, c), "Grace", numbered("m", 0, 5))
	started, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Int32
	var ctxErr error
	h := func(ctx context.Context, msgs []*client.MessageExt) error {
		if string(msgs[0].Body) == "m00001" {
			close(started)
			<-release
			ctxErr = ctx.Err()
		}
		handled.Add(int32(len(msgs)))
		return nil
	}
	cons := newConsumer(t, c, "cg-grace", "Grace", "*", h, client.WithPullBatchSize(1))
	<-started
	closed := make(chan struct{})
	go func() { cons.Close(); close(closed) }()
	time.Sleep(50 * time.Millisecond) // let Close reach its wait
	select {
	case <-closed:
		t.Fatal("Close returned while a handler was running")
	default:
	}
	close(release)
	<-closed
	if ctxErr != nil || handled.Load() != 2 {
		t.Fatalf("handler context %v, %d messages handled; want a live context and m00000, m00001", ctxErr, handled.Load())
	}
	var r received
	newConsumer(t, c, "cg-grace", "Grace", "*", r.handle)
	waitUntil(t, 10*time.Second, "the three messages left", func() bool { return len(r.get()) >= 3 })
	if got := r.get(); len(got) != 3 || got[0] != "m00002" {
		t.Fatalf("the next member received %v, want m00002..m00004", got)
	}
}

// A handler that outlives the shutdown timeout sees its context cancelled.
func TestPushConsumerShutdownTimeout(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Stuck", 1)
	sendBodies(t, newProducer(t, c), "Stuck", []string{"x"})
	started := make(chan struct{})
	var once sync.Once
	h := func(ctx context.Context, msgs []*client.MessageExt) error {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return ctx.Err()
	}
	cons := newConsumer(t, c, "cg-stuck", "Stuck", "*", h, client.WithShutdownTimeout(100*time.Millisecond))
	<-started
	cons.Close() // returns: the handler's context ends after 100 ms
}

// leakCheck starts a cluster and returns a function that, once the client
// under test is closed, stops the broker and fails the test if any
// goroutine started since is still running.
func leakCheck(t *testing.T) (*mqtest.Cluster, func()) {
	c := mqtest.Start(t)
	ignore := goleak.IgnoreCurrent()
	return c, func() {
		t.Helper()
		c.StopBroker()
		// goleak's own retries span under a second; servers on a loaded
		// machine may take longer to notice closed connections.
		deadline := time.Now().Add(10 * time.Second)
		for goleak.Find(ignore) != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		goleak.VerifyNone(t, ignore)
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	ctx := context.Background()
	nop := func(context.Context, []*client.MessageExt) error { return nil }
	t.Run("producer", func(t *testing.T) {
		c, verify := leakCheck(t)
		p, _ := client.NewProducer(client.WithNameServers(c.NamesrvAddr))
		if _, err := p.Send(ctx, &client.Message{Topic: "G", Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		var done atomic.Int32
		for range 50 {
			if err := p.SendAsync(ctx, &client.Message{Topic: "G", Body: []byte("y")}, func(*client.SendResult, error) { done.Add(1) }); err != nil {
				t.Fatal(err)
			}
		}
		p.Close() // with sends in flight
		if done.Load() != 50 {
			t.Fatalf("%d of 50 async callbacks ran before Close returned", done.Load())
		}
		if err := p.SendAsync(ctx, &client.Message{Topic: "G"}, func(*client.SendResult, error) {}); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("SendAsync after Close: %v", err)
		}
		verify()
	})
	t.Run("transaction producer", func(t *testing.T) {
		c, verify := leakCheck(t)
		tp, _ := client.NewTransactionProducer(&ledger{db: map[string]client.TxState{}}, client.WithNameServers(c.NamesrvAddr), client.WithGroup("tx-leak"))
		if _, _, err := tp.SendInTransaction(ctx, &client.Message{Topic: "GT", Body: []byte("commit")}); err != nil {
			t.Fatal(err)
		}
		tp.Close()
		verify()
	})
	for _, tc := range []struct {
		name string
		opts []client.Option
	}{
		{"push clustering", nil},
		{"push broadcasting", []client.Option{client.WithBroadcasting()}},
		{"push orderly", []client.Option{client.WithOrderly(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, verify := leakCheck(t)
			createTopic(t, c, "GP", 2)
			sendAndClose(t, c, "GP", "x")
			var r received
			cons, _ := client.NewPushConsumer("cg-leak", append([]client.Option{client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst()}, tc.opts...)...)
			cons.Subscribe("GP", "*", r.handle)
			if err := cons.Start(ctx); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 10*time.Second, "x", func() bool { return len(r.get()) == 1 })
			cons.Close()
			verify()
		})
	}
	t.Run("push never started", func(t *testing.T) {
		c, verify := leakCheck(t)
		cons, _ := client.NewPushConsumer("cg-leak", client.WithNameServers(c.NamesrvAddr))
		cons.Subscribe("GP", "*", nop)
		cons.Close()
		verify()
	})
	for _, assign := range []bool{false, true} {
		name := map[bool]string{false: "pull subscribe", true: "pull assign"}[assign]
		t.Run(name, func(t *testing.T) {
			c, verify := leakCheck(t)
			createTopic(t, c, "GL", 2)
			sendAndClose(t, c, "GL", "x")
			pc, _ := client.NewPullConsumer("cg-leak", client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst())
			if assign {
				qs, _ := pc.Queues(ctx, "GL")
				pc.Assign(ctx, qs...)
			} else {
				pc.Subscribe("GL", "*")
			}
			if err := pc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			poll(t, pc, 1)
			blocked := make(chan error)
			go func() { _, err := pc.Poll(ctx); blocked <- err }()
			pc.Close()
			if err := <-blocked; !errors.Is(err, client.ErrClosed) {
				t.Fatalf("Poll waiting during Close: %v", err)
			}
			verify()
		})
	}
	t.Run("admin", func(t *testing.T) {
		c, verify := leakCheck(t)
		a, _ := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
		if _, err := a.ClusterInfo(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.BrokerRuntime(ctx, c.BrokerAddr); err != nil {
			t.Fatal(err)
		}
		a.Close()
		verify()
	})
}

// sendAndClose sends bodies with a producer closed before it returns, so
// that it does not count in leak checks.
func sendAndClose(t *testing.T, c *mqtest.Cluster, topic string, bodies ...string) {
	t.Helper()
	p, err := client.NewProducer(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sendBodies(t, p, topic, bodies)
}

// Offsets are committed periodically, not only by pulls: here the one
// pull sent after all five messages were cached carries offset 0 and is
// held by the broker for 15 s (nothing new arrives), so offset 3 within
// 12 s comes from the 5 s commit.
func TestPushConsumerCommitsPeriodically(t *testing.T) {
	c := mqtest.Start(t)
	createTopic(t, c, "Busy", 1)
	sendBodies(t, newProducer(t, c), "Busy", numbered("m", 0, 5))
	gate := map[string]chan struct{}{"m00000": make(chan struct{}), "m00003": make(chan struct{})}
	h := func(ctx context.Context, msgs []*client.MessageExt) error {
		for _, m := range msgs {
			if ch := gate[string(m.Body)]; ch != nil {
				select {
				case <-ch:
				case <-ctx.Done():
				}
			}
		}
		return nil
	}
	cons := newConsumer(t, c, "cg-busy", "Busy", "*", h, client.WithPullBatchSize(1))
	defer close(gate["m00003"])
	w := watchCache(cons, "Busy")
	waitUntil(t, 10*time.Second, "five cached messages", func() bool { n, _ := w.sample(cons, "Busy"); return n == 5 })
	w.close()
	time.Sleep(100 * time.Millisecond) // let the next pull leave with offset 0
	close(gate["m00000"])
	a, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitUntil(t, 12*time.Second, "offset 3 committed", func() bool {
		p, err := a.ConsumerProgress(context.Background(), "cg-busy", "Busy")
		if err != nil {
			return false
		}
		for q, o := range p {
			if q.Topic == "Busy" && o.ConsumerOffset == 3 {
				return true
			}
		}
		return false
	})
}
