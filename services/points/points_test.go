package points

import (
	"testing"

	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/internal/svctest"
)

func confirmed(order, user string, cents int64) func() *events.OrderConfirmed {
	return func() *events.OrderConfirmed {
		return &events.OrderConfirmed{OrderID: order, UserID: user, AmountCents: cents}
	}
}

// TestPointsRedelivery delivers every OrderConfirmed twice. With the
// idempotency record points are paid once; with the teaching switch that
// skips it they are paid twice.
func TestPointsRedelivery(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		skip bool
		want int64
	}{{"idempotent", false, 12 + 3}, {"without idempotency record (teaching switch)", true, 2 * (12 + 3)}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{pipeline.Settings{Pool: pgtest.New(t).Pool(t, "points"), SkipIdempotency: c.skip}})
			for _, ev := range []func() *events.OrderConfirmed{confirmed("o1", "ann", 1299), confirmed("o2", "ann", 399), confirmed("o3", "ann", 99)} {
				for range 2 {
					svctest.Deliver(t, s.Router.Handle, svctest.Message(events.TopicOrder, events.TagOrderConfirmed, ev()))
				}
			}
			url := svctest.Serve(t, s.Routes)
			var a Account
			if code, raw := svctest.Do(t, "GET", url+"/points/ann", nil, &a); code != 200 {
				t.Fatalf("GET: %d %s", code, raw)
			}
			if a.Balance != c.want {
				t.Fatalf("balance %d, want %d (ledger %+v)", a.Balance, c.want, a.Ledger)
			}
			var sum int64
			for _, e := range a.Ledger {
				sum += e.Points
			}
			if sum != a.Balance {
				t.Fatalf("ledger sums to %d, balance is %d", sum, a.Balance)
			}
		})
	}
}

func TestPointsHTTP(t *testing.T) {
	t.Parallel()
	s := New(Config{pipeline.Settings{Pool: pgtest.New(t).Pool(t, "points")}})
	url := svctest.Serve(t, s.Routes)
	var a Account
	if code, raw := svctest.Do(t, "GET", url+"/points/nobody", nil, &a); code != 200 || a.Balance != 0 || a.Ledger == nil || len(a.Ledger) != 0 {
		t.Fatalf("unknown user: %d %s", code, raw)
	}
	if code, raw := svctest.Do(t, "GET", url+"/points/bad%20user", nil, nil); code != 400 || svctest.ErrorCode(raw) != "bad_request" {
		t.Fatalf("bad user: %d %s", code, raw)
	}
}

func TestEarned(t *testing.T) {
	for cents, want := range map[int64]int64{0: 0, 99: 0, 100: 1, 1299: 12, -5: 0} {
		if got := Earned(cents); got != want {
			t.Errorf("Earned(%d) = %d, want %d", cents, got, want)
		}
	}
}
