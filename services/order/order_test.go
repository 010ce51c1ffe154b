package order

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/bus"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/internal/svctest"
)

type fixture struct {
	s    *Service
	pool *pgxpool.Pool
	c    *mqtest.Cluster
	url  string
}

// start runs the order service on a fresh database and broker. Stock
// events are delivered by the tests themselves.
func start(t *testing.T, opts ...mqtest.Option) fixture {
	t.Helper()
	c := mqtest.Start(t, opts...)
	admin, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, admin, bus.Topics...); err != nil {
		t.Fatal(err)
	}
	pool := pgtest.New(t).Pool(t, "order")
	s := New(Config{Settings: pipeline.Settings{Pool: pool, NameServers: []string{c.NamesrvAddr}, RelayInterval: 50 * time.Millisecond}})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return fixture{s: s, pool: pool, c: c, url: svctest.Serve(t, s.Routes)}
}

func (f fixture) order(t *testing.T, id string) Order {
	t.Helper()
	var o Order
	if code, raw := svctest.Do(t, "GET", f.url+"/orders/"+id, nil, &o); code != 200 {
		t.Fatalf("GET order %s: %d %s", id, code, raw)
	}
	return o
}

func (f fixture) outboxCount(t *testing.T, tag string) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox WHERE tag = $1", tag).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// next waits for the next message on ch.
func next(t *testing.T, ch <-chan *client.MessageExt, what string) *client.MessageExt {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s within 30s", what)
		return nil
	}
}

func TestOrderSaga(t *testing.T) {
	t.Parallel()
	f := start(t)
	createdCh := svctest.Collect(t, f.c.NamesrvAddr, "test-created", events.TopicOrder, events.TagOrderCreated)
	followCh := svctest.Collect(t, f.c.NamesrvAddr, "test-follow", events.TopicOrder, events.TagOrderConfirmed+" || "+events.TagOrderCancelled)

	var o Order
	code, raw := svctest.Do(t, "POST", f.url+"/orders", `{"user_id":"ann","items":[{"sku":"BOOK-1","quantity":2}],"coupon":"CPN-x"}`, &o)
	if code != 201 || o.Status != StatusPending || o.ID == "" || len(o.Items) != 1 {
		t.Fatalf("POST /orders: %d %s", code, raw)
	}
	m := next(t, createdCh, "OrderCreated")
	var ev events.OrderCreated
	if err := events.Decode(m.Body, &ev); err != nil || ev.OrderID != o.ID || ev.Coupon != "CPN-x" || ev.Items[0].Quantity != 2 {
		t.Fatalf("OrderCreated %+v (%v)", ev, err)
	}
	if keys := protocol.Keys(m.Property(protocol.PropertyKeys)); len(keys) != 1 || keys[0] != o.ID {
		t.Fatalf("OrderCreated keys %q, want the order ID", keys)
	}

	for range 2 { // redelivered: confirmed once
		svctest.Deliver(t, f.s.pipe.Router.Handle, svctest.Message(events.TopicStock, events.TagStockReserved, &events.StockReserved{OrderID: o.ID, AmountCents: 5000}))
	}
	if got := f.order(t, o.ID); got.Status != StatusConfirmed || got.AmountCents == nil || *got.AmountCents != 5000 {
		t.Fatalf("after StockReserved: %+v", got)
	}
	var conf events.OrderConfirmed
	if err := events.Decode(next(t, followCh, "OrderConfirmed").Body, &conf); err != nil || conf.OrderID != o.ID || conf.AmountCents != 5000 || conf.UserID != "ann" || conf.Coupon != "CPN-x" {
		t.Fatalf("OrderConfirmed %+v (%v)", conf, err)
	}
	if n := f.outboxCount(t, events.TagOrderConfirmed); n != 1 {
		t.Fatalf("%d OrderConfirmed queued for one order", n)
	}

	code, _ = svctest.Do(t, "POST", f.url+"/orders", `{"user_id":"ann","items":[{"sku":"KBD-1","quantity":999}]}`, &o)
	if code != 201 {
		t.Fatal(code)
	}
	svctest.Deliver(t, f.s.pipe.Router.Handle, svctest.Message(events.TopicStock, events.TagStockRejected, &events.StockRejected{OrderID: o.ID, Reason: events.RejectOutOfStock, SKU: "KBD-1"}))
	if got := f.order(t, o.ID); got.Status != StatusCancelled || got.Reason != events.RejectOutOfStock {
		t.Fatalf("after StockRejected: %+v", got)
	}
	var canc events.OrderCancelled
	if err := events.Decode(next(t, followCh, "OrderCancelled").Body, &canc); err != nil || canc.OrderID != o.ID || canc.Reason != events.RejectOutOfStock {
		t.Fatalf("OrderCancelled %+v (%v)", canc, err)
	}
	// A late StockReserved for the cancelled order changes nothing.
	svctest.Deliver(t, f.s.pipe.Router.Handle, svctest.Message(events.TopicStock, events.TagStockReserved, &events.StockReserved{OrderID: o.ID, AmountCents: 1}))
	if got := f.order(t, o.ID); got.Status != StatusCancelled {
		t.Fatalf("a cancelled order became %s", got.Status)
	}

	var list []Order
	if code, raw := svctest.Do(t, "GET", f.url+"/orders?user=ann", nil, &list); code != 200 || len(list) != 2 || list[0].ID != o.ID {
		t.Fatalf("GET /orders?user=ann: %d %s", code, raw)
	}
}

func TestOrderHTTPValidation(t *testing.T) {
	t.Parallel()
	f := start(t)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code, mentions           string
	}{
		{"no user", "POST", "/orders", `{"items":[{"sku":"A","quantity":1}]}`, 400, "bad_request", "user_id"},
		{"no items", "POST", "/orders", `{"user_id":"u","items":[]}`, 400, "bad_request", "items"},
		{"zero quantity", "POST", "/orders", `{"user_id":"u","items":[{"sku":"A","quantity":0}]}`, 400, "bad_request", "quantity"},
		{"huge quantity", "POST", "/orders", `{"user_id":"u","items":[{"sku":"A","quantity":1000000}]}`, 400, "bad_request", "quantity"},
		{"same sku twice", "POST", "/orders", `{"user_id":"u","items":[{"sku":"A","quantity":1},{"sku":"A","quantity":2}]}`, 400, "bad_request", "twice"},
		{"bad sku", "POST", "/orders", `{"user_id":"u","items":[{"sku":"a b","quantity":1}]}`, 400, "bad_request", "sku"},
		{"every problem at once", "POST", "/orders", `{"user_id":"","items":[{"sku":"","quantity":0}]}`, 400, "bad_request", "user_id"},
		{"not json", "POST", "/orders", `user=u`, 400, "invalid_json", ""},
		{"unknown field", "POST", "/orders", `{"user_id":"u","items":[{"sku":"A","quantity":1}],"price":1}`, 400, "invalid_json", "price"},
		{"list without user", "GET", "/orders", "", 400, "bad_request", "user"},
		{"unknown order", "GET", "/orders/00000000-0000-0000-0000-000000000000", "", 404, "not_found", ""},
		{"not an order id", "GET", "/orders/xyz", "", 404, "not_found", ""},
		{"unknown request", "GET", "/seckill/requests/r-none", "", 404, "not_found", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, raw := svctest.Do(t, c.method, f.url+c.path, c.body, nil)
			if code != c.status || svctest.ErrorCode(raw) != c.code || !strings.Contains(raw, c.mentions) {
				t.Fatalf("%d %s, want %d %s mentioning %q", code, raw, c.status, c.code, c.mentions)
			}
		})
	}
	var n int
	f.pool.QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n)
	if n != 0 {
		t.Fatalf("refused requests stored %d orders", n)
	}
}

func TestOrderSeckillRequests(t *testing.T) {
	t.Parallel()
	f := start(t)
	req := func(id, user string) *client.MessageExt {
		return svctest.Message(events.TopicSeckill, events.TagSeckillRequested, &events.SeckillRequested{RequestID: id, Activity: "SECKILL-1", UserID: user})
	}
	h := f.s.pipe.Router.Handle
	svctest.Deliver(t, h, req("r1", "u1"), req("r1", "u1"), req("r2", "u1"), req("r3", "u2"), req("r4", "bad user"))
	status := func(id string) SeckillRequest {
		var r SeckillRequest
		if code, raw := svctest.Do(t, "GET", f.url+"/seckill/requests/"+id, nil, &r); code != 200 {
			t.Fatalf("GET request %s: %d %s", id, code, raw)
		}
		return r
	}
	r1 := status("r1")
	if r1.Status != RequestQueued || r1.OrderID == "" {
		t.Fatalf("r1 %+v", r1)
	}
	if r := status("r2"); r.Status != RequestRejected || r.Reason != ReasonDuplicate || r.OrderID != "" {
		t.Fatalf("r2 (same user again) %+v", r)
	}
	if r := status("r4"); r.Status != RequestRejected || r.Reason != ReasonInvalid {
		t.Fatalf("r4 (bad user) %+v", r)
	}
	if o := f.order(t, r1.OrderID); o.Activity != "SECKILL-1" || o.RequestID != "r1" || o.Items[0].SKU != "SECKILL-1" || o.Items[0].Quantity != 1 {
		t.Fatalf("r1's order %+v", o)
	}
	var n int
	f.pool.QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n)
	if n != 2 {
		t.Fatalf("%d orders for two users", n)
	}
	svctest.Deliver(t, h, svctest.Message(events.TopicStock, events.TagStockReserved, &events.StockReserved{OrderID: r1.OrderID, AmountCents: 9900}))
	if r := status("r1"); r.Status != RequestOrdered || r.OrderID != r1.OrderID {
		t.Fatalf("r1 after its order was confirmed %+v", r)
	}
	r3 := status("r3")
	svctest.Deliver(t, h, svctest.Message(events.TopicStock, events.TagStockRejected, &events.StockRejected{OrderID: r3.OrderID, Reason: events.RejectOutOfStock}))
	if r := status("r3"); r.Status != RequestRejected || r.Reason != ReasonSoldOut {
		t.Fatalf("r3 after its order was cancelled %+v", r)
	}
}

// The broker's check-back asks the database, never memory.
func TestOrderTransactionCheck(t *testing.T) {
	t.Parallel()
	f := start(t)
	var o Order
	if code, raw := svctest.Do(t, "POST", f.url+"/orders", `{"user_id":"u","items":[{"sku":"MUG-1","quantity":1}]}`, &o); code != 201 {
		t.Fatalf("%d %s", code, raw)
	}
	check := func(id string, age time.Duration) client.TxState {
		m := svctest.Message(events.TopicOrder, events.TagOrderCreated, &events.OrderCreated{OrderID: id})
		m.Properties = protocol.SetProperty(m.Properties, orderIDProperty, id)
		m.BornTimestamp = time.Now().Add(-age).UnixMilli()
		// A service restarted since the order was placed: nothing in memory.
		return listener{New(Config{Settings: pipeline.Settings{Pool: f.pool}})}.Check(context.Background(), m)
	}
	if got := check(o.ID, 0); got != client.TxCommit {
		t.Errorf("stored order: %v, want commit", got)
	}
	if got := check("0190d6f4-0000-7000-8000-000000000000", time.Second); got != client.TxUnknown {
		t.Errorf("missing, young: %v, want unknown", got)
	}
	if got := check("0190d6f4-0000-7000-8000-000000000000", time.Hour); got != client.TxRollback {
		t.Errorf("missing, old: %v, want rollback", got)
	}
}

// Close waits for a local transaction under way before it closes the
// producer; orders that arrive after Close began are refused. The order
// stored is announced: by its commit, or, if that was lost with the
// closing connection, by the broker's check-back to the restarted
// service, which finds the order in the database.
func TestOrderCloseWaitsForLocalTransactions(t *testing.T) {
	t.Parallel()
	f := start(t, mqtest.WithBrokerConfig(func(c *broker.Config) {
		c.TransactionTimeout, c.TransactionCheckInterval = 500*time.Millisecond, 200*time.Millisecond
	}))
	created := svctest.Collect(t, f.c.NamesrvAddr, "test-close", events.TopicOrder, events.TagOrderCreated)
	ctx := context.Background()
	lock, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, "LOCK TABLE orders IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		o   Order
		err error
	}
	placed := make(chan result, 1)
	go func() {
		o, err := f.s.Place(ctx, NewOrder{UserID: "late", Items: []events.Item{{SKU: "MUG-1", Quantity: 1}}})
		placed <- result{o, err}
	}()
	svctest.WaitFor(t, 30*time.Second, "the order's insert to wait for the lock", func() bool {
		var n int
		f.pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO orders%'").Scan(&n)
		return n == 1
	})
	closed := make(chan error, 1)
	go func() { closed <- f.s.Close() }()
	svctest.WaitFor(t, 30*time.Second, "Close to begin", func() bool {
		f.s.mu.RLock()
		defer f.s.mu.RUnlock()
		return f.s.closing
	})
	if _, err := f.s.Place(ctx, NewOrder{UserID: "later", Items: []events.Item{{SKU: "MUG-1", Quantity: 1}}}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("an order after Close began: %v, want ErrShuttingDown", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a local transaction under way", err)
	default:
	}
	lock.Rollback(ctx)
	r := <-placed
	if r.err != nil {
		t.Fatalf("the order in flight: %v", r.err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}

	// Restart; the next order registers the new producer with the broker.
	s := New(Config{Settings: pipeline.Settings{Pool: f.pool, NameServers: []string{f.c.NamesrvAddr}}})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	after, err := s.Place(ctx, NewOrder{UserID: "after", Items: []events.Item{{SKU: "MUG-1", Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for !seen[r.o.ID] || !seen[after.ID] {
		var ev events.OrderCreated
		if err := events.Decode(next(t, created, "OrderCreated").Body, &ev); err != nil {
			t.Fatal(err)
		}
		seen[ev.OrderID] = true
	}
}

// SeckillDelay holds each flash-sale request back before it is handled; a
// handling context that ends during the pause leaves the request
// unhandled, to be delivered again.
func TestOrderSeckillConsumeDelay(t *testing.T) {
	t.Parallel()
	f := start(t)
	// Set before any flash-sale request reaches the service (none comes
	// from the broker in this test); the handler goroutine starts after.
	f.s.cfg.SeckillDelay = time.Hour
	msg := svctest.Message(events.TopicSeckill, events.TagSeckillRequested, &events.SeckillRequested{RequestID: "slow-1", Activity: "SECKILL-1", UserID: "u1"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.s.onSeckillRequested(ctx, msg) }()
	seen := func() int {
		code, _ := svctest.Do(t, "GET", f.url+"/seckill/requests/slow-1", nil, nil)
		return code
	}
	// Without the pause the request would be recorded in a few
	// milliseconds; with it, nothing is recorded while it waits.
	time.Sleep(300 * time.Millisecond)
	if code := seen(); code != 404 {
		t.Fatalf("request recorded during the pause: GET %d", code)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler during a cancelled pause: %v, want context.Canceled", err)
	}
	if code := seen(); code != 404 {
		t.Fatalf("request recorded after the pause was cut: GET %d", code)
	}
	// Redelivered with a short pause, it is handled.
	f.s.cfg.SeckillDelay = time.Millisecond
	svctest.Deliver(t, f.s.pipe.Router.Handle, msg)
	var r SeckillRequest
	if code, raw := svctest.Do(t, "GET", f.url+"/seckill/requests/slow-1", nil, &r); code != 200 || r.Status != RequestQueued {
		t.Fatalf("after redelivery: %d %s", code, raw)
	}
}
