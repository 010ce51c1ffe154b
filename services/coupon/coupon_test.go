package coupon

import (
	"testing"

	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/internal/svctest"
)

func TestCouponIssueAndUse(t *testing.T) {
	t.Parallel()
	s := New(Config{pipeline.Settings{Pool: pgtest.New(t).Pool(t, "coupon")}})
	deliver := func(ev events.OrderConfirmed) {
		for range 2 { // every event twice: redelivery changes nothing
			e := ev
			svctest.Deliver(t, s.Router.Handle, svctest.Message(events.TopicOrder, events.TagOrderConfirmed, &e))
		}
	}
	deliver(events.OrderConfirmed{OrderID: "small", UserID: "bob", AmountCents: MinOrderCents - 1})
	deliver(events.OrderConfirmed{OrderID: "big", UserID: "bob", AmountCents: MinOrderCents})
	deliver(events.OrderConfirmed{OrderID: "other", UserID: "eve", AmountCents: 50000})
	// eve tries bob's coupon: not hers, not marked.
	deliver(events.OrderConfirmed{OrderID: "steal", UserID: "eve", AmountCents: 100, Coupon: Code("big")})
	url := svctest.Serve(t, s.Routes)
	var cs []Coupon
	if code, raw := svctest.Do(t, "GET", url+"/coupons?user=bob", nil, &cs); code != 200 || len(cs) != 1 {
		t.Fatalf("bob's coupons: %d %s", code, raw)
	}
	if cs[0].Code != Code("big") || cs[0].ValueCents != ValueCents || cs[0].UsedAt != nil {
		t.Fatalf("bob's coupon %+v", cs[0])
	}
	deliver(events.OrderConfirmed{OrderID: "spend", UserID: "bob", AmountCents: 500, Coupon: Code("big")})
	svctest.Do(t, "GET", url+"/coupons?user=bob", nil, &cs)
	if len(cs) != 1 || cs[0].UsedOrder == nil || *cs[0].UsedOrder != "spend" {
		t.Fatalf("after spending, bob's coupons %+v", cs)
	}
	if code, raw := svctest.Do(t, "GET", url+"/coupons", nil, nil); code != 400 || svctest.ErrorCode(raw) != "bad_request" {
		t.Fatalf("no user: %d %s", code, raw)
	}
}
