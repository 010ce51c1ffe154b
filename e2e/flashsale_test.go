package e2e

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/loadtest"
	"github.com/surge-mq/surge/mq/client"
)

// The gateway's global bucket is set well under the spike's rate, so the
// spike is shaved and part of it refused.
const flashGatewayEnv = "GATEWAY_ENV=SECKILL_RATE=200 SECKILL_BURST=50"

// flashSale runs the load test against p: 2,000 requests (200/s for 2 s, a
// spike of 800/s for 2 s, 200/s for 2 s) from 500 users for 100 items, then
// reconciliation.
func flashSale(t *testing.T, p *platform) *loadtest.Result {
	t.Helper()
	profile, err := loadtest.SpikeProfile(100, 8, 2*time.Second, 2*time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.NewAdmin(client.WithNameServers(p.Namesrv), client.WithSendTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	res, err := loadtest.Run(t.Context(), loadtest.Config{
		API:           &loadtest.API{Gateway: p.Gateway, Inventory: p.Inventory},
		Activity:      "E2E-FLASH",
		Profile:       profile,
		Users:         500,
		Stock:         100,
		Backlog:       loadtest.ConsumerLag{Admin: admin, Group: "order-service", Topic: "SECKILL_REQUESTS"},
		SettleTimeout: 90 * time.Second,
		PollInterval:  100 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("load test: %v", err)
	}
	var summary strings.Builder
	if err := loadtest.WriteSummary(&summary, res); err != nil {
		t.Fatal(err)
	}
	t.Logf("load test summary:\n%s", summary.String())
	if res.Totals.Sent < 1999 {
		t.Fatalf("%d requests sent, want the profile's 2000", res.Totals.Sent)
	}
	return res
}

// holds reports whether the verdict has the named check and it held.
func holds(v loadtest.Verdict, name string) bool {
	i := slices.IndexFunc(v.Checks, func(c loadtest.Check) bool { return c.Name == name })
	return i >= 0 && v.Checks[i].OK
}

// TestFlashSale: through the real gateway, the stock is sold exactly, to
// distinct users, and every admitted request is answered.
func TestFlashSale(t *testing.T) {
	p := startPlatform(t, flashGatewayEnv)
	res := flashSale(t, p)
	v := res.Verdict
	if !v.Passed() {
		t.Fatalf("verdict failed: %q\nchecks: %+v", v.Failed(), v.Checks)
	}
	c := v.Counts
	if c.Ordered != 100 {
		t.Errorf("%d requests ORDERED, want the whole stock of 100", c.Ordered)
	}
	if c.MaxOrderedPerUser != 1 {
		t.Errorf("a user holds %d orders, want 1", c.MaxOrderedPerUser)
	}
	if c.Queued != 0 || c.Unknown != 0 || c.Ordered+c.Rejected != res.Totals.Admitted {
		t.Errorf("admitted %d, ORDERED %d + REJECTED %d, still queued %d, never seen %d",
			res.Totals.Admitted, c.Ordered, c.Rejected, c.Queued, c.Unknown)
	}
	if res.Totals.Rejected == 0 {
		t.Errorf("no 429 from a bucket of 200/s against a spike of 800/s")
	}
	// The backlog is read from the order service's consumer group: the
	// load test's default group must be the one the service uses.
	var consumed int64
	for _, s := range res.Samples {
		if s.Consumed != nil {
			consumed += *s.Consumed
		}
	}
	if consumed == 0 {
		t.Errorf("no progress of consumer group order-service on SECKILL_REQUESTS was seen")
	}
}

// TestFlashSaleCatchesOversell: with the inventory's check-then-update
// teaching switch on, concurrent reservations overwrite each other and
// more is sold than the stock; the load test's reconciliation must say so.
func TestFlashSaleCatchesOversell(t *testing.T) {
	p := startPlatform(t, flashGatewayEnv, "INVENTORY_ENV=TEACH_CHECK_THEN_UPDATE=true TEACH_RACE_WINDOW=20ms")
	res := flashSale(t, p)
	v := res.Verdict
	for _, name := range []string{"sold ≤ stock", "inventory agrees with orders"} {
		if holds(v, name) {
			t.Errorf("check %q held with the oversell switch on; ORDERED %d of a stock of 100", name, v.Counts.Ordered)
		}
	}
	// Everything else still holds: the requests were answered, one order
	// per user.
	for _, name := range []string{"admitted = ORDERED + REJECTED", "one order per user"} {
		if !holds(v, name) {
			t.Errorf("check %q failed: %+v", name, v.Checks)
		}
	}
}
