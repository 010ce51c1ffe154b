package events

import (
	"errors"
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
