package consume_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/svctest"
)

func TestRouter(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t).Pool(t, "points")
	kicks := 0
	r := consume.NewRouter(consume.Config{Pool: pool, AfterCommit: func() { kicks++ }})
	var applied []string
	failNext := false
	consume.On(r, events.TagOrderConfirmed, func(ctx context.Context, tx pgx.Tx, ev *events.OrderConfirmed) error {
		if failNext {
			failNext = false
			return errors.New("database hiccup")
		}
		applied = append(applied, ev.OrderID)
		return nil
	})
	msg := func(id string) *client.MessageExt {
		return svctest.Message(events.TopicOrder, events.TagOrderConfirmed, &events.OrderConfirmed{OrderID: id})
	}
	ctx := context.Background()

	// A failed effect records nothing: the redelivery applies it.
	failNext = true
	if err := r.Handle(ctx, []*client.MessageExt{msg("o1")}); err == nil {
		t.Fatal("a failed effect was not reported (the message would not be redelivered)")
	}
	svctest.Deliver(t, r.Handle, msg("o1"), msg("o1"), msg("o2"))
	// Other tags pass through untouched.
	svctest.Deliver(t, r.Handle, svctest.Message(events.TopicOrder, events.TagOrderCreated, &events.OrderCreated{OrderID: "o3"}))
	// An unreadable body is an error, so the broker retries it and in the
	// end keeps it in the dead-letter queue rather than losing it.
	bad := msg("o4")
	bad.Body = []byte(`{"version":99}`)
	if err := r.Handle(ctx, []*client.MessageExt{bad}); !errors.Is(err, events.ErrUnsupportedVersion) {
		t.Fatalf("newer payload: %v", err)
	}

	if len(applied) != 2 || applied[0] != "o1" || applied[1] != "o2" {
		t.Fatalf("applied %v, want [o1 o2]", applied)
	}
	if st := r.Stats(); st != (consume.Stats{Applied: 2, Duplicates: 1, Failed: 2}) || kicks != 2 {
		t.Fatalf("stats %+v, kicks %d", st, kicks)
	}
	var keys int
	pool.QueryRow(ctx, "SELECT count(*) FROM processed_events").Scan(&keys)
	if keys != 2 {
		t.Fatalf("%d keys recorded, want 2", keys)
	}
}
