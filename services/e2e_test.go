package services_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/coupon"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/svctest"
	"github.com/surge-mq/surge/services/inventory"
	"github.com/surge-mq/surge/services/order"
	"github.com/surge-mq/surge/services/points"
)

const settle = 60 * time.Second // upper bound for asynchronous outcomes

func (p *platform) putProduct(sku string, price int64, stock int) {
	p.t.Helper()
	body := fmt.Sprintf(`{"name":%q,"price_cents":%d,"stock":%d}`, sku, price, stock)
	if code, raw := svctest.Do(p.t, "PUT", p.urls["inventory"]+"/admin/products/"+sku, body, nil); code != 200 {
		p.t.Fatalf("PUT product: %d %s", code, raw)
	}
}

func (p *platform) stock(sku string) int {
	p.t.Helper()
	var pr inventory.Product
	if code, raw := svctest.Do(p.t, "GET", p.urls["inventory"]+"/products/"+sku, nil, &pr); code != 200 {
		p.t.Fatalf("GET product: %d %s", code, raw)
	}
	return pr.Stock
}

func (p *platform) place(body string) order.Order {
	p.t.Helper()
	var o order.Order
	if code, raw := svctest.Do(p.t, "POST", p.urls["order"]+"/orders", body, &o); code != 201 {
		p.t.Fatalf("POST /orders: %d %s", code, raw)
	}
	return o
}

func (p *platform) order(id string) order.Order {
	p.t.Helper()
	var o order.Order
	svctest.Do(p.t, "GET", p.urls["order"]+"/orders/"+id, nil, &o)
	return o
}

func (p *platform) waitStatus(id, status string) order.Order {
	p.t.Helper()
	svctest.WaitFor(p.t, settle, "order "+id+" "+status, func() bool { return p.order(id).Status == status })
	return p.order(id)
}

func (p *platform) points(user string) points.Account {
	p.t.Helper()
	var a points.Account
	svctest.Do(p.t, "GET", p.urls["points"]+"/points/"+user, nil, &a)
	return a
}

func (p *platform) coupons(user string) []coupon.Coupon {
	p.t.Helper()
	var cs []coupon.Coupon
	svctest.Do(p.t, "GET", p.urls["coupon"]+"/coupons?user="+user, nil, &cs)
	return cs
}

// snapshot is every business fact of the platform, for comparisons.
func (p *platform) snapshot() map[string]any {
	p.t.Helper()
	s := map[string]any{}
	for name, q := range map[string]struct{ svc, sql string }{
		"orders":       {"order", "SELECT coalesce(json_agg(json_build_object('id', id, 'status', status, 'amount', amount_cents, 'reason', reason) ORDER BY id), '[]')::text FROM orders"},
		"requests":     {"order", "SELECT coalesce(json_agg(json_build_object('id', request_id, 'status', status, 'order', order_id) ORDER BY request_id), '[]')::text FROM seckill_requests"},
		"order outbox": {"order", "SELECT count(*)::text FROM outbox"},
		"stock":        {"inventory", "SELECT json_agg(json_build_object('sku', sku, 'available', available) ORDER BY sku)::text FROM products"},
		"reservations": {"inventory", "SELECT count(*) || '/' || coalesce(sum(quantity), 0) || '/' || count(released_at) FROM reservations"},
		"stock outbox": {"inventory", "SELECT count(*)::text FROM outbox"},
		"points":       {"points", "SELECT coalesce(json_agg(json_build_object('u', user_id, 'b', balance) ORDER BY user_id), '[]')::text FROM accounts"},
		"ledger":       {"points", "SELECT count(*)::text FROM ledger"},
		"coupons":      {"coupon", "SELECT coalesce(json_agg(json_build_object('c', code, 'used', used_order) ORDER BY code), '[]')::text FROM coupons"},
	} {
		var v string
		p.query(q.svc, &v, q.sql)
		s[name] = v
	}
	return s
}

// TestPlatformOrders: an order goes PENDING -> CONFIRMED and points and a
// coupon follow; the coupon is spent by a later order; an order over stock
// ends CANCELLED with stock unchanged; then every message of every topic
// is delivered twice more and nothing changes.
func TestPlatformOrders(t *testing.T) {
	p := startPlatform(t)
	p.putProduct("E2E-A", 6000, 10)

	o := p.place(`{"user_id":"ann","items":[{"sku":"E2E-A","quantity":2}]}`)
	if o.Status != order.StatusPending {
		t.Fatalf("new order is %s", o.Status)
	}
	o = p.waitStatus(o.ID, order.StatusConfirmed)
	if *o.AmountCents != 12000 {
		t.Fatalf("amount %d, want 12000", *o.AmountCents)
	}
	svctest.WaitFor(t, settle, "ann's 120 points", func() bool { return p.points("ann").Balance == 120 })
	svctest.WaitFor(t, settle, "ann's coupon", func() bool { return len(p.coupons("ann")) == 1 })
	code := p.coupons("ann")[0].Code
	if code != coupon.Code(o.ID) {
		t.Fatalf("coupon %s, want %s", code, coupon.Code(o.ID))
	}

	spend := p.place(`{"user_id":"ann","items":[{"sku":"E2E-A","quantity":1}],"coupon":"` + code + `"}`)
	p.waitStatus(spend.ID, order.StatusConfirmed)
	svctest.WaitFor(t, settle, "ann's coupon used", func() bool {
		cs := p.coupons("ann")
		return len(cs) == 1 && cs[0].UsedOrder != nil && *cs[0].UsedOrder == spend.ID
	})
	svctest.WaitFor(t, settle, "ann's 180 points", func() bool { return p.points("ann").Balance == 180 })

	over := p.place(`{"user_id":"bob","items":[{"sku":"E2E-A","quantity":100}]}`)
	over = p.waitStatus(over.ID, order.StatusCancelled)
	if over.Reason != events.RejectOutOfStock {
		t.Fatalf("cancelled for %q", over.Reason)
	}
	if got := p.stock("E2E-A"); got != 7 {
		t.Fatalf("stock %d after 3 sold and a rejected order, want 7", got)
	}

	// Every event applied so far has left its outbox and been applied
	// downstream: 3 orders (2 confirmed, 1 cancelled), so inventory saw 3
	// OrderCreated and 1 OrderCancelled.
	svctest.WaitFor(t, settle, "the platform to settle", func() bool {
		st := p.stats()
		return p.settled() && st["inventory"].Applied == 4 && st["order"].Applied == 3 && st["points"].Applied == 2 && st["coupon"].Applied == 2
	})
	before, statsBefore := p.snapshot(), p.stats()
	want := map[string]int64{}
	for _, topic := range []string{events.TopicOrder, events.TopicStock} {
		msgs := p.messages(topic)
		p.resend(msgs)
		p.resend(msgs)
		for _, m := range msgs {
			for svc, tags := range handles {
				if slices.Contains(tags, m.Tags()) {
					want[svc] += 2
				}
			}
		}
	}
	seen := func(st consume.Stats) int64 { return st.Applied + st.Duplicates }
	svctest.WaitFor(t, settle, "every redelivery to be handled", func() bool {
		st := p.stats()
		for svc, n := range want {
			if seen(st[svc])-seen(statsBefore[svc]) < n {
				return false
			}
		}
		return p.settled()
	})
	if after := p.snapshot(); !maps.EqualFunc(before, after, func(a, b any) bool { return a == b }) {
		t.Fatalf("redelivering every message twice changed the state:\nbefore %v\nafter  %v", before, after)
	}
	for svc, st := range p.stats() {
		if d := st.Duplicates - statsBefore[svc].Duplicates; d != want[svc] {
			t.Errorf("%s skipped %d duplicates, want %d", svc, d, want[svc])
		}
	}
	if got := p.points("bob").Balance; got != 0 {
		t.Fatalf("bob earned %d points for a cancelled order", got)
	}
}

// TestPlatformFlashSale: 2,000 flash-sale requests from 500 users for 100
// items sell exactly 100, never twice to a user, and every request ends
// ORDERED or REJECTED.
func TestPlatformFlashSale(t *testing.T) {
	p := startPlatform(t)
	const (
		requests = 2000
		users    = 500
		items    = 100
		sku      = "SALE-1"
	)
	p.putProduct(sku, 9900, items)
	prod, err := client.NewProducer(client.WithNameServers(p.c.NamesrvAddr), client.WithGroup("gateway-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	start := time.Now()
	for i := range requests {
		id := fmt.Sprintf("req-%04d", i)
		body, _ := events.Encode(&events.SeckillRequested{RequestID: id, Activity: sku, UserID: fmt.Sprintf("user-%03d", i%users), RequestedAt: time.Now()})
		if _, err := prod.Send(context.Background(), &client.Message{Topic: events.TopicSeckill, Tags: events.TagSeckillRequested, Keys: []string{id}, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	svctest.WaitFor(t, 2*settle, "every request to end ORDERED or REJECTED", func() bool {
		var done int
		p.query("order", &done, "SELECT count(*) FROM seckill_requests WHERE status IN ('ORDERED', 'REJECTED')")
		return done == requests
	})
	t.Logf("%d requests settled in %v", requests, time.Since(start).Round(time.Millisecond))
	var ordered, orderedUsers, confirmed, maxPerUser, duplicates, soldOut int
	p.query("order", &ordered, "SELECT count(*) FROM seckill_requests WHERE status = 'ORDERED'")
	p.query("order", &orderedUsers, "SELECT count(DISTINCT user_id) FROM seckill_requests WHERE status = 'ORDERED'")
	p.query("order", &confirmed, "SELECT count(*) FROM orders WHERE activity = $1 AND status = 'CONFIRMED'", sku)
	p.query("order", &maxPerUser, "SELECT max(n) FROM (SELECT count(*) AS n FROM orders WHERE activity = $1 GROUP BY user_id) x", sku)
	p.query("order", &duplicates, "SELECT count(*) FROM seckill_requests WHERE reason = 'duplicate'")
	p.query("order", &soldOut, "SELECT count(*) FROM seckill_requests WHERE reason = 'sold_out'")
	if ordered != items || orderedUsers != items || confirmed != items || maxPerUser != 1 {
		t.Fatalf("ordered %d (users %d), confirmed %d, max orders per user %d; want %d, %d, %d, 1", ordered, orderedUsers, confirmed, maxPerUser, items, items, items)
	}
	if duplicates != requests-users || soldOut != users-items {
		t.Fatalf("rejected %d duplicates and %d sold out; want %d and %d", duplicates, soldOut, requests-users, users-items)
	}
	var reserved int
	p.query("inventory", &reserved, "SELECT coalesce(sum(quantity), 0) FROM reservations WHERE sku = $1 AND released_at IS NULL", sku)
	if left := p.stock(sku); left != 0 || reserved != items {
		t.Fatalf("stock left %d, reserved %d; want 0 and %d", left, reserved, items)
	}
}

// TestPlatformRestart stops services mid-flow: orders placed while
// inventory is down, inventory's answers produced while order is down.
// After the restarts every order is confirmed and paid its points.
func TestPlatformRestart(t *testing.T) {
	p := startPlatform(t)
	p.putProduct("E2E-R", 1000, 50)
	p.stop("inventory")
	var ids []string
	for i := range 5 {
		ids = append(ids, p.place(fmt.Sprintf(`{"user_id":"r%d","items":[{"sku":"E2E-R","quantity":1}]}`, i)).ID)
	}
	for _, id := range ids {
		if s := p.order(id).Status; s != order.StatusPending {
			t.Fatalf("order %s is %s with inventory down", id, s)
		}
	}
	p.stop("order")
	p.start("inventory")
	svctest.WaitFor(t, settle, "inventory to reserve the five orders", func() bool {
		var n int
		p.query("inventory", &n, "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
		return n == 5
	})
	p.start("order")
	for i, id := range ids {
		p.waitStatus(id, order.StatusConfirmed)
		user := fmt.Sprintf("r%d", i)
		svctest.WaitFor(t, settle, user+"'s points", func() bool { return p.points(user).Balance == 10 })
	}
	if got := p.stock("E2E-R"); got != 45 {
		t.Fatalf("stock %d, want 45", got)
	}
}
