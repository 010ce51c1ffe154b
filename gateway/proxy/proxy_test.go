package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// errorCode returns the code of a platform JSON error body.
func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string }
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if body.Error.Message == "" {
		t.Error("error body without a message")
	}
	return body.Error.Code
}

func TestProxyForwards(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.RequestURI()+" "+string(b))
		w.Header().Set("X-Forwarded-For-Seen", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Location", "/orders/7")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()
	gw := httptest.NewServer(New(Upstream{Name: "order", URL: mustURL(t, upstream.URL), StripPrefix: "/api"}))
	defer gw.Close()

	resp, err := http.Post(gw.URL+"/api/orders?user=u%201", "application/json", strings.NewReader(`{"user_id":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || string(body) != `{"ok":true}` {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/orders/7" {
		t.Errorf("Location %q, want the public path /api/orders/7", loc)
	}
	if got, want := resp.Header.Get("X-Seen"), `POST /orders?user=u%201 {"user_id":"u1"}`; got != want {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
	if got := resp.Header.Get("X-Forwarded-For-Seen"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the client's address", got)
	}
}

func TestProxyBasePathAndEscapes(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.EscapedPath())
	}))
	defer upstream.Close()
	gw := httptest.NewServer(New(Upstream{Name: "inventory", URL: mustURL(t, upstream.URL+"/v1"), StripPrefix: "/api"}))
	defer gw.Close()
	resp, err := http.Get(gw.URL + "/api/products/a%2Fb")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "/v1/products/a%2Fb" {
		t.Errorf("upstream path %q", b)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	addr := upstream.URL
	upstream.Close() // nothing listens there now
	gw := httptest.NewServer(New(Upstream{Name: "points", URL: mustURL(t, addr), StripPrefix: "/api"}))
	defer gw.Close()
	resp, err := http.Get(gw.URL + "/api/points/u1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if code := errorCode(t, resp); code != "upstream_unavailable" {
		t.Errorf("code %q", code)
	}
}

func TestProxyUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hangs until the gateway gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer upstream.Close()
	defer close(release)
	gw := httptest.NewServer(New(Upstream{Name: "coupon", URL: mustURL(t, upstream.URL), StripPrefix: "/api", Timeout: 100 * time.Millisecond}))
	defer gw.Close()
	resp, err := http.Get(gw.URL + "/api/coupons?user=u1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if code := errorCode(t, resp); code != "upstream_timeout" {
		t.Errorf("code %q", code)
	}
}

func TestProxyModifyResponse(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	defer upstream.Close()
	gw := httptest.NewServer(New(Upstream{Name: "order", URL: mustURL(t, upstream.URL), ModifyResponse: func(r *http.Response) error {
		r.StatusCode, r.Status = http.StatusTeapot, "418 I'm a teapot"
		return nil
	}}))
	defer gw.Close()
	resp, err := http.Get(gw.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("status %d, want the modified 418", resp.StatusCode)
	}
}
