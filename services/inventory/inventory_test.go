package inventory

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/svctest"
)

// newService returns an inventory service on a fresh database (its
// consumer is driven by the tests, not by a broker) and its pool.
func newService(t *testing.T, cfg Config) (*Service, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.New(t).Pool(t, "inventory")
	cfg.Pool = pool
	return New(cfg), pool
}

func setStock(t *testing.T, s *Service, sku string, price int64, stock int) {
	t.Helper()
	if _, err := s.store.put(context.Background(), Product{SKU: sku, Name: sku, PriceCents: price, Stock: stock}); err != nil {
		t.Fatal(err)
	}
}

func stockOf(t *testing.T, s *Service, sku string) int {
	t.Helper()
	p, err := s.store.get(context.Background(), sku)
	if err != nil {
		t.Fatal(err)
	}
	return p.Stock
}

// outboxed returns the tags and bodies queued for orderID, in order.
func outboxed(t *testing.T, pool *pgxpool.Pool, orderID string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT tag || ' ' || convert_from(body, 'UTF8') FROM outbox WHERE shard_key = $1 ORDER BY id", orderID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

func created(id string, items ...events.Item) *client.MessageExt {
	return svctest.Message(events.TopicOrder, events.TagOrderCreated, &events.OrderCreated{OrderID: id, UserID: "u1", Items: items})
}

func TestInventoryReservesAllItemsOrNone(t *testing.T) {
	t.Parallel()
	s, pool := newService(t, Config{})
	setStock(t, s, "A", 250, 5)
	setStock(t, s, "B", 1000, 1)
	h := s.Router.Handle

	svctest.Deliver(t, h, created("o1", events.Item{SKU: "A", Quantity: 2}, events.Item{SKU: "B", Quantity: 2}))
	if a, b := stockOf(t, s, "A"), stockOf(t, s, "B"); a != 5 || b != 1 {
		t.Fatalf("after a rejected order stock is A=%d B=%d, want 5 and 1", a, b)
	}
	if got := outboxed(t, pool, "o1"); len(got) != 1 || !contains(got[0], `StockRejected`, `"reason":"out_of_stock"`, `"sku":"B"`) {
		t.Fatalf("outbox for o1: %q", got)
	}

	svctest.Deliver(t, h, created("o2", events.Item{SKU: "B", Quantity: 1}, events.Item{SKU: "A", Quantity: 2}))
	if a, b := stockOf(t, s, "A"), stockOf(t, s, "B"); a != 3 || b != 0 {
		t.Fatalf("after a reserved order stock is A=%d B=%d, want 3 and 0", a, b)
	}
	if got := outboxed(t, pool, "o2"); len(got) != 1 || !contains(got[0], `StockReserved`, `"amount_cents":1500`) {
		t.Fatalf("outbox for o2: %q", got)
	}

	svctest.Deliver(t, h, created("o3", events.Item{SKU: "NOPE", Quantity: 1}))
	if got := outboxed(t, pool, "o3"); len(got) != 1 || !contains(got[0], `"reason":"unknown_sku"`) {
		t.Fatalf("outbox for o3: %q", got)
	}
	svctest.Deliver(t, h, created("o4"))
	if got := outboxed(t, pool, "o4"); len(got) != 1 || !contains(got[0], `"reason":"invalid_order"`) {
		t.Fatalf("outbox for o4: %q", got)
	}
}

func TestInventoryRedeliveryChangesNothing(t *testing.T) {
	t.Parallel()
	s, pool := newService(t, Config{})
	setStock(t, s, "A", 100, 10)
	h := s.Router.Handle
	for range 3 { // the same fact under three message IDs
		svctest.Deliver(t, h, created("o1", events.Item{SKU: "A", Quantity: 4}))
	}
	if got := stockOf(t, s, "A"); got != 6 {
		t.Fatalf("stock %d after one order of 4 from 10 delivered three times", got)
	}
	if got := outboxed(t, pool, "o1"); len(got) != 1 {
		t.Fatalf("%d events queued for one order: %q", len(got), got)
	}
}

func TestInventoryReleasesStockOfCancelledOrder(t *testing.T) {
	t.Parallel()
	s, _ := newService(t, Config{})
	setStock(t, s, "A", 100, 10)
	h := s.Router.Handle
	svctest.Deliver(t, h, created("o1", events.Item{SKU: "A", Quantity: 4}))
	cancel := func() *client.MessageExt {
		return svctest.Message(events.TopicOrder, events.TagOrderCancelled, &events.OrderCancelled{OrderID: "o1", UserID: "u1", Reason: "test"})
	}
	svctest.Deliver(t, h, cancel(), cancel())
	if got := stockOf(t, s, "A"); got != 10 {
		t.Fatalf("stock %d after the cancelled order was released (twice delivered), want 10", got)
	}
	// A cancellation of an order that reserved nothing releases nothing.
	svctest.Deliver(t, h, svctest.Message(events.TopicOrder, events.TagOrderCancelled, &events.OrderCancelled{OrderID: "other"}))
	if got := stockOf(t, s, "A"); got != 10 {
		t.Fatalf("stock %d after cancelling an unknown order", got)
	}
}

// TestInventoryConcurrentOrders runs 40 one-unit orders at once against
// a stock of 10. The conditional UPDATE sells exactly 10; the
// check-then-update teaching switch oversells.
func TestInventoryConcurrentOrders(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		checkFirst bool
	}{{"conditional update", false}, {"check then update (teaching switch)", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, pool := newService(t, Config{CheckThenUpdate: c.checkFirst, RaceWindow: 20 * time.Millisecond})
			setStock(t, s, "HOT", 100, 10)
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					if err := s.Router.Handle(context.Background(), []*client.MessageExt{created(fmt.Sprint("o", i), events.Item{SKU: "HOT", Quantity: 1})}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			var sold int
			if err := pool.QueryRow(context.Background(), "SELECT coalesce(sum(quantity), 0) FROM reservations WHERE sku = 'HOT'").Scan(&sold); err != nil {
				t.Fatal(err)
			}
			switch {
			case !c.checkFirst && (sold != 10 || stockOf(t, s, "HOT") != 0):
				t.Fatalf("sold %d with stock left %d; want exactly 10 and 0", sold, stockOf(t, s, "HOT"))
			case c.checkFirst && sold <= 10:
				t.Fatalf("check-then-update sold %d of 10: the lost update did not show", sold)
			}
			t.Logf("sold %d of a stock of 10", sold)
		})
	}
}

func TestInventoryHTTP(t *testing.T) {
	t.Parallel()
	s, _ := newService(t, Config{})
	url := svctest.Serve(t, s.Routes)

	var ps []Product
	if code, raw := svctest.Do(t, "GET", url+"/products", nil, &ps); code != 200 || len(ps) < 5 {
		t.Fatalf("GET /products: %d %s", code, raw)
	}
	var p Product
	if code, raw := svctest.Do(t, "PUT", url+"/admin/products/FLASH-1", `{"name":"Flash","price_cents":4999,"stock":100}`, &p); code != 200 || p.Stock != 100 || p.PriceCents != 4999 {
		t.Fatalf("PUT: %d %s", code, raw)
	}
	if code, raw := svctest.Do(t, "GET", url+"/products/FLASH-1", nil, &p); code != 200 || p.Name != "Flash" {
		t.Fatalf("GET: %d %s", code, raw)
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown product", "GET", "/products/NOPE", "", 404, "not_found"},
		{"bad sku", "PUT", "/admin/products/-x", `{"name":"a","price_cents":1,"stock":1}`, 400, "bad_request"},
		{"missing stock", "PUT", "/admin/products/X", `{"name":"a","price_cents":1}`, 400, "bad_request"},
		{"negative price", "PUT", "/admin/products/X", `{"name":"a","price_cents":-1,"stock":1}`, 400, "bad_request"},
		{"negative stock", "PUT", "/admin/products/X", `{"name":"a","price_cents":1,"stock":-5}`, 400, "bad_request"},
		{"empty name", "PUT", "/admin/products/X", `{"name":"","price_cents":1,"stock":1}`, 400, "bad_request"},
		{"float price", "PUT", "/admin/products/X", `{"name":"a","price_cents":1.5,"stock":1}`, 400, "invalid_json"},
		{"unknown field", "PUT", "/admin/products/X", `{"name":"a","price_cents":1,"stock":1,"color":"red"}`, 400, "invalid_json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, raw := svctest.Do(t, c.method, url+c.path, c.body, nil)
			if code != c.status || svctest.ErrorCode(raw) != c.code {
				t.Fatalf("%d %s, want %d %s", code, raw, c.status, c.code)
			}
		})
	}
	if code, _ := svctest.Do(t, "GET", url+"/products/X", nil, nil); code != 404 {
		t.Fatalf("a refused PUT created product X")
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
