package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	in := OrderCreated{OrderID: "o1", UserID: "u1", Items: []Item{{SKU: "sku-1", Quantity: 2}}, CreatedAt: time.Unix(1700000000, 0).UTC()}
	b, err := Encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out OrderCreated
	if err := Decode(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Version != Version || out.OrderID != "o1" || len(out.Items) != 1 || out.Items[0].Quantity != 2 || !out.CreatedAt.Equal(in.CreatedAt) {
		t.Fatalf("round trip: %+v", out)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"no version":    `{"order_id":"o1"}`,
		"newer version": `{"version":99,"order_id":"o1"}`,
	} {
		var v StockReserved
		if err := Decode([]byte(body), &v); !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("%s: got %v, want ErrUnsupportedVersion", name, err)
		}
	}
	var v StockReserved
	if err := Decode([]byte(`{"version":`), &v); err == nil || errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("truncated JSON: got %v", err)
	}
}

func TestKey(t *testing.T) {
	if k := Key(TagOrderConfirmed, "o1"); k != "OrderConfirmed:o1" {
		t.Fatal(k)
	}
}

func TestKeyMethodsNameTheFact(t *testing.T) {
	for _, c := range []struct {
		p    Payload
		want string
	}{
		{&OrderCreated{OrderID: "o"}, "OrderCreated:o"},
		{&StockReserved{OrderID: "o"}, "StockReserved:o"},
		{&StockRejected{OrderID: "o"}, "StockRejected:o"},
		{&OrderConfirmed{OrderID: "o"}, "OrderConfirmed:o"},
		{&OrderCancelled{OrderID: "o"}, "OrderCancelled:o"},
		{&SeckillRequested{RequestID: "r"}, "SeckillRequested:r"},
	} {
		if got := c.p.Key(); got != c.want {
			t.Errorf("%T.Key() = %q, want %q", c.p, got, c.want)
		}
	}
}

func TestValidIDAndSKU(t *testing.T) {
	for s, want := range map[string]bool{"user-1": true, "a@b.c": true, "": false, "a b": false, strings.Repeat("x", 65): false} {
		if ValidID(s) != want {
			t.Errorf("ValidID(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"BOOK-1": true, "-x": false, "a/b": false, "": false} {
		if ValidSKU(s) != want {
			t.Errorf("ValidSKU(%q) = %v", s, !want)
		}
	}
}
