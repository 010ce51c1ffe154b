package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/bus"
	"github.com/surge-mq/surge/services/internal/outbox"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/svctest"
)

// Events committed while nothing sends them (the process died after the
// commit, or the broker is down) leave when a relay runs again, in order,
// in one queue per shard key, and are marked sent.
func TestOutboxSendsWhatWasCommittedBeforeACrash(t *testing.T) {
	t.Parallel()
	c := mqtest.Start(t)
	admin, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := bus.EnsureTopics(context.Background(), admin, "OUTBOX_TEST"); err != nil {
		t.Fatal(err)
	}
	pool := pgtest.New(t).Pool(t, "order")
	ctx := context.Background()
	add := func(i int) {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return outbox.Add(ctx, tx, "OUTBOX_TEST", events.TagOrderConfirmed, "order-1",
				&events.OrderConfirmed{OrderID: "order-1", AmountCents: int64(i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		add(i)
	}
	prod, err := client.NewProducer(client.WithNameServers(c.NamesrvAddr), client.WithGroup("outbox-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	relay := outbox.NewRelay(outbox.Config{Pool: pool, Sender: prod, Interval: 50 * time.Millisecond})

	// The broker is down: nothing is marked sent.
	c.StopBroker()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	n, err := relay.Flush(fctx)
	cancel()
	if err == nil || n != 0 {
		t.Fatalf("flush with the broker down: sent %d, err %v", n, err)
	}
	unsent := func() int {
		var n int
		pool.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE sent_at IS NULL").Scan(&n)
		return n
	}
	if got := unsent(); got != 3 {
		t.Fatalf("%d unsent after a failed pass, want 3", got)
	}

	c.StartBroker()
	got := svctest.Collect(t, c.NamesrvAddr, "outbox-test-reader", "OUTBOX_TEST", "*")
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(rctx) }()
	add(3) // committed while the relay runs
	relay.Kick()
	queue := int32(-1)
	for i := range 4 {
		select {
		case m := <-got:
			var ev events.OrderConfirmed
			if err := events.Decode(m.Body, &ev); err != nil || ev.AmountCents != int64(i) {
				t.Fatalf("message %d: %+v %v (out of order?)", i, ev, err)
			}
			if queue >= 0 && m.QueueID != queue {
				t.Fatalf("one shard key's events in queues %d and %d", queue, m.QueueID)
			}
			queue = m.QueueID
		case <-time.After(30 * time.Second):
			t.Fatalf("received %d of 4 events", i)
		}
	}
	stop()
	<-done
	if n := unsent(); n != 0 {
		t.Fatalf("%d events still unsent", n)
	}
}
