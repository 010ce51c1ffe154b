//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestPlatform starts the whole of docker-compose.yml and drives it through
// the gateway as a client would: one plain order through the saga, then a
// flash sale during which the broker restarts. Nothing admitted may be lost
// (every admitted request ends ORDERED or REJECTED), nothing oversold, and
// the containers stay within the memory budget.
func TestPlatform(t *testing.T) {
	requireBinaries(t, "mqnamesrv", "mqbroker", "mqadmin", "probe", "order", "inventory", "points", "coupon", "gateway")
	s := startStack(t, "surge-e2e", "postgres", "namesrv", "broker", "order", "inventory", "points", "coupon", "gateway")
	gw, inv := s.url("gateway"), s.url("inventory")

	t.Run("order", func(t *testing.T) {
		// 2 x 60.00: above the coupon service's threshold for a coupon.
		putProduct(t, inv, "E2E-BOOK", 6000, 100)
		var created map[string]any
		call(t, http.MethodPost, gw+"/api/orders", map[string]any{
			"user_id": "e2e-buyer", "items": []map[string]any{{"sku": "E2E-BOOK", "quantity": 2}},
		}, http.StatusCreated, &created)
		id := str(created, "id", "order_id")
		if id == "" {
			t.Fatalf("POST /api/orders answered no order id: %v", created)
		}
		eventually(t, "order "+id+" CONFIRMED", func() (bool, error) {
			var o map[string]any
			call(t, http.MethodGet, gw+"/api/orders/"+id, nil, http.StatusOK, &o)
			switch o["status"] {
			case "CONFIRMED":
				return true, nil
			case "CANCELLED":
				return false, fmt.Errorf("order cancelled: %v", o)
			}
			return false, nil
		})
		if got := stock(t, gw, "E2E-BOOK"); got != 98 {
			t.Errorf("E2E-BOOK stock %d after an order of 2 from 100, want 98", got)
		}
		eventually(t, "points for e2e-buyer", func() (bool, error) {
			var p map[string]any
			call(t, http.MethodGet, gw+"/api/points/e2e-buyer", nil, http.StatusOK, &p)
			b, _ := num(p["balance"])
			return b > 0, nil
		})
		eventually(t, "a coupon for e2e-buyer", func() (bool, error) {
			var c any
			call(t, http.MethodGet, gw+"/api/coupons?user=e2e-buyer", nil, http.StatusOK, &c)
			return nonEmptyList(c), nil
		})
	})

	t.Run("flash sale across a broker restart", func(t *testing.T) {
		const sku, stockUnits, users = "E2E-FLASH", 20, 60
		putProduct(t, inv, sku, 100, stockUnits)

		restarted := make(chan error, 1)
		var requests []string
		for i := range users {
			if i == users/3 {
				// Restart the broker while requests keep coming.
				go func() {
					out, err := s.compose("restart", "broker")
					if err != nil {
						err = fmt.Errorf("%w: %s", err, out)
					}
					restarted <- err
				}()
			}
			requests = append(requests, admit(t, gw, sku, fmt.Sprintf("e2e-flash-%03d", i)))
			time.Sleep(100 * time.Millisecond)
		}
		if err := <-restarted; err != nil {
			t.Fatalf("restarting the broker: %v", err)
		}

		ordered, rejected := map[string]bool{}, 0
		for _, id := range requests {
			var final map[string]any
			eventually(t, "seckill request "+id+" settled", func() (bool, error) {
				call(t, http.MethodGet, gw+"/api/seckill/requests/"+id, nil, http.StatusOK, &final)
				return final["status"] == "ORDERED" || final["status"] == "REJECTED", nil
			})
			if final["status"] == "REJECTED" {
				rejected++
				continue
			}
			oid := str(final, "order_id")
			if oid == "" || ordered[oid] {
				t.Errorf("request %s ORDERED with order id %q (missing or repeated)", id, oid)
			}
			ordered[oid] = true
			var o map[string]any
			call(t, http.MethodGet, gw+"/api/orders/"+oid, nil, http.StatusOK, &o)
			if o["status"] != "CONFIRMED" {
				t.Errorf("request %s ORDERED but its order %s is %v", id, oid, o["status"])
			}
		}
		t.Logf("flash sale: %d users admitted, %d ordered, %d rejected", len(requests), len(ordered), rejected)
		if len(ordered) != stockUnits {
			t.Errorf("%d orders for %d units of stock and %d admitted buyers: want exactly the stock sold", len(ordered), stockUnits, len(requests))
		}
		if got := stock(t, gw, sku); got != 0 {
			t.Errorf("%s stock %d after the sale, want 0", sku, got)
		}
	})

	s.checkMemory(memoryBudget)
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// call sends a JSON request and decodes the JSON answer into out; any other
// status than want fails the test.
func call(t *testing.T, method, url string, body any, want int, out any) {
	t.Helper()
	resp, data := do(t, method, url, body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d: %s", method, url, resp.Status, want, data)
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // IDs may be numbers too large for a float64
		if err := dec.Decode(out); err != nil {
			t.Fatalf("%s %s: answer is not JSON (%v): %s", method, url, err, data)
		}
	}
}

func do(t *testing.T, method, url string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp, data
}

// admit asks the gateway to admit a user to a flash sale until it does:
// 429 (rate limited) and 503 (the broker is away) are refusals, not losses,
// so the user tries again after Retry-After. It returns the request ID.
func admit(t *testing.T, gw, activity, user string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, data := do(t, http.MethodPost, gw+"/api/seckill/"+activity, map[string]any{"user_id": user})
		switch resp.StatusCode {
		case http.StatusAccepted:
			var a struct {
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(data, &a); err != nil || a.RequestID == "" {
				t.Fatalf("seckill admission for %s: no request_id in %s", user, data)
			}
			return a.RequestID
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			if time.Now().After(deadline) {
				t.Fatalf("seckill admission for %s refused for 2 minutes, last: %s %s", user, resp.Status, data)
			}
			wait := 200 * time.Millisecond
			if sec, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && sec > 0 {
				wait = time.Duration(sec) * time.Second
			}
			time.Sleep(wait)
		default:
			t.Fatalf("seckill admission for %s: %s: %s", user, resp.Status, data)
		}
	}
}

// putProduct creates a product or sets its stock, through the inventory
// service's admin API (the gateway does not expose it).
func putProduct(t *testing.T, inventoryURL, sku string, priceCents, units int) {
	t.Helper()
	resp, data := do(t, http.MethodPut, inventoryURL+"/admin/products/"+sku,
		map[string]any{"name": "e2e " + sku, "price_cents": priceCents, "stock": units})
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT /admin/products/%s: %s: %s", sku, resp.Status, data)
	}
}

// stock reads a product's stock through the gateway.
func stock(t *testing.T, gw, sku string) int {
	t.Helper()
	var p map[string]any
	call(t, http.MethodGet, gw+"/api/products/"+sku, nil, http.StatusOK, &p)
	for _, k := range []string{"available", "stock"} {
		if v, ok := num(p[k]); ok {
			return int(v)
		}
	}
	t.Fatalf("GET /api/products/%s: no stock in %v", sku, p)
	return 0
}

// eventually polls cond until it holds, fails, or two minutes pass.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 2 minutes", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// str returns the first of the keys that holds a non-empty string or a
// number, as text.
func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number:
			return v.String()
		}
	}
	return ""
}

// num reads a JSON number decoded with UseNumber.
func num(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// nonEmptyList reports whether v is a non-empty JSON array, or an object
// holding one (e.g. {"coupons": [...]}).
func nonEmptyList(v any) bool {
	switch v := v.(type) {
	case []any:
		return len(v) > 0
	case map[string]any:
		for _, f := range v {
			if l, ok := f.([]any); ok && len(l) > 0 {
				return true
			}
		}
	}
	return false
}
