package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/surge-mq/surge/gateway/admission"
	"github.com/surge-mq/surge/gateway/internal/httpbench"
	"github.com/surge-mq/surge/mq/mqtest"
)

// fakeService stands in for one service: it answers every request with its
// name and the path it saw. The order service also knows some seckill
// requests.
type fakeService struct {
	name    string
	mu      sync.Mutex
	ordered map[string]bool // seckill request IDs the order service has seen
}

func (s *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/seckill/requests/"); ok && s.name == "order" {
		s.mu.Lock()
		known := s.ordered[id]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !known {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"not_found","message":"unknown request"}}`)
			return
		}
		fmt.Fprintf(w, `{"request_id":%q,"status":"ORDERED","order_id":"o-1"}`, id)
		return
	}
	fmt.Fprintf(w, "%s %s %s", s.name, r.Method, r.URL.RequestURI())
}

type testGateway struct {
	*Gateway
	url     string
	cluster *mqtest.Cluster
	order   *fakeService
	logs    *bytes.Buffer
}

func startGateway(t *testing.T, logLevel slog.Level, adjust func(*Config)) *testGateway {
	t.Helper()
	c := mqtest.Start(t)
	services := map[string]*url.URL{}
	var order *fakeService
	for _, name := range []string{"order", "inventory", "points", "coupon"} {
		s := &fakeService{name: name, ordered: map[string]bool{}}
		if name == "order" {
			order = s
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		services[name], _ = url.Parse(srv.URL)
	}
	logs := &bytes.Buffer{}
	cfg := Config{
		NameServers: []string{c.NamesrvAddr},
		OrderURL:    services["order"], InventoryURL: services["inventory"],
		PointsURL: services["points"], CouponURL: services["coupon"],
		Admission: admission.Config{Rate: 1000, Burst: 1000, UserRate: 100, UserBurst: 100},
		Logger:    slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: logLevel})),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &testGateway{Gateway: g, url: srv.URL, cluster: c, order: order, logs: logs}
}

// lockedWriter serialises the log handler's writes with the test's reads.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func do(t *testing.T, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s (%v)", body, err)
	}
	return e.Error.Code
}

func TestGatewayRoutes(t *testing.T) {
	g := startGateway(t, slog.LevelInfo, nil)
	for _, tc := range []struct {
		method, path, want string
	}{
		{"GET", "/api/orders/7", "order GET /orders/7"},
		{"GET", "/api/orders?user=u1", "order GET /orders?user=u1"},
		{"POST", "/api/orders", "order POST /orders"},
		{"GET", "/api/products", "inventory GET /products"},
		{"GET", "/api/products/sku-1", "inventory GET /products/sku-1"},
		{"GET", "/api/points/u1", "points GET /points/u1"},
		{"GET", "/api/coupons?user=u1", "coupon GET /coupons?user=u1"},
	} {
		status, _, body := do(t, tc.method, g.url+tc.path, "")
		if status != http.StatusOK || body != tc.want {
			t.Errorf("%s %s: %d %q, want %q", tc.method, tc.path, status, body, tc.want)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/api/ordersX", http.StatusNotFound, "not_found"},
		{"GET", "/api/admin/products/x", http.StatusNotFound, "not_found"},
		{"GET", "/api/seckill/sku-1", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"POST", "/api/seckill/requests/x", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		status, _, body := do(t, tc.method, g.url+tc.path, "")
		if status != tc.status || errorCode(t, body) != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, status, body, tc.status, tc.code)
		}
	}
}

func TestGatewaySeckillStatus(t *testing.T) {
	g := startGateway(t, slog.LevelInfo, nil)
	status, _, body := do(t, "POST", g.url+"/api/seckill/sku-1", `{"user_id":"u1"}`)
	if status != http.StatusAccepted {
		t.Fatalf("seckill: %d %s", status, body)
	}
	var acceptedJSON struct {
		RequestID string `json:"request_id"`
		StatusURL string `json:"status_url"`
	}
	json.Unmarshal([]byte(body), &acceptedJSON)

	// Not yet seen by the order service: QUEUED.
	status, _, body = do(t, "GET", g.url+acceptedJSON.StatusURL, "")
	if want := fmt.Sprintf(`{"request_id":%q,"status":"QUEUED"}`, acceptedJSON.RequestID); status != http.StatusOK || strings.TrimSpace(body) != want {
		t.Errorf("issued, unseen: %d %s, want 200 %s", status, body, want)
	}
	// Seen: the order service's answer.
	g.order.mu.Lock()
	g.order.ordered[acceptedJSON.RequestID] = true
	g.order.mu.Unlock()
	status, _, body = do(t, "GET", g.url+acceptedJSON.StatusURL, "")
	if status != http.StatusOK || !strings.Contains(body, `"status":"ORDERED"`) {
		t.Errorf("issued, ordered: %d %s", status, body)
	}
	// IDs this gateway did not issue stay 404.
	forged := uuid.New()
	forged[6] = forged[6]&0x0f | 0x80 // version 8 like ours, without our signature
	for _, id := range []string{uuid.NewString(), forged.String(), "nonsense"} {
		status, _, body = do(t, "GET", g.url+"/api/seckill/requests/"+id, "")
		if status != http.StatusNotFound || errorCode(t, body) != "not_found" {
			t.Errorf("unknown %s: %d %s, want the order service's 404", id, status, body)
		}
	}
}

func TestGatewayHealth(t *testing.T) {
	g := startGateway(t, slog.LevelInfo, nil)
	if status, _, body := do(t, "GET", g.url+"/healthz", ""); status != http.StatusOK {
		t.Errorf("healthz: %d %s", status, body)
	}
	if status, _, body := do(t, "GET", g.url+"/readyz", ""); status != http.StatusOK {
		t.Errorf("readyz with a broker: %d %s", status, body)
	}
	g.cluster.StopBroker()
	status, _, body := do(t, "GET", g.url+"/readyz", "")
	if status != http.StatusServiceUnavailable || errorCode(t, body) != "not_ready" || !strings.Contains(body, "broker") {
		t.Errorf("readyz without a broker: %d %s, want 503 naming the broker", status, body)
	}
	if status, _, _ := do(t, "GET", g.url+"/healthz", ""); status != http.StatusOK {
		t.Errorf("healthz without a broker: %d, want 200 (the process runs)", status)
	}
	g.cluster.StartBroker()
	if status, _, body := do(t, "GET", g.url+"/readyz", ""); status != http.StatusOK {
		t.Errorf("readyz after the broker restarted: %d %s", status, body)
	}
}

func TestGatewayStatsAndMetrics(t *testing.T) {
	g := startGateway(t, slog.LevelInfo, func(c *Config) {
		c.Admission = admission.Config{Rate: 1e-6, Burst: 3, UserRate: 1e-6, UserBurst: 1}
	})
	statuses := map[int]int{}
	for _, user := range []string{"a", "a", "b", "c", "d", "e"} {
		status, h, body := do(t, "POST", g.url+"/api/seckill/sku-1", fmt.Sprintf(`{"user_id":%q}`, user))
		statuses[status]++
		if status == http.StatusTooManyRequests && (h.Get("Retry-After") == "" || errorCode(t, body) != "rate_limited") {
			t.Errorf("429 without Retry-After or code: %v %s", h, body)
		}
	}
	do(t, "POST", g.url+"/api/seckill/sku-1", `{}`)
	if statuses[http.StatusAccepted] != 3 || statuses[http.StatusTooManyRequests] != 3 {
		t.Fatalf("statuses %v: want a, b, c admitted; a (again), d, e refused", statuses)
	}

	_, _, body := do(t, "GET", g.url+"/api/stats", "")
	var s map[string]any
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	want := `map[admitted:3 enqueue_errors:0 enqueued:3 in_flight:0 invalid:1 offered:6 rejected:map[global:2 user:1] user_buckets:3]`
	if got := fmt.Sprint(s); got != want {
		t.Errorf("stats\n got %s\nwant %s", got, want)
	}

	_, _, metrics := do(t, "GET", g.url+"/metrics", "")
	for _, line := range []string{
		"surge_gateway_seckill_offered_total 6",
		"surge_gateway_seckill_admitted_total 3",
		`surge_gateway_seckill_rejected_total{reason="global"} 2`,
		`surge_gateway_seckill_rejected_total{reason="user"} 1`,
		"surge_gateway_seckill_enqueued_total 3",
		"surge_gateway_seckill_enqueue_errors_total 0",
		"surge_gateway_seckill_in_flight 0",
		"surge_gateway_seckill_user_buckets 3",
		"go_goroutines ",
	} {
		if !strings.Contains(metrics, "\n"+line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}

// TestGatewayLogs: a refusal is not logged above debug; other requests are.
func TestGatewayLogs(t *testing.T) {
	for _, tc := range []struct {
		level      slog.Level
		want429Log bool
	}{
		{slog.LevelInfo, false},
		{slog.LevelDebug, true},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			g := startGateway(t, tc.level, func(c *Config) {
				c.Admission = admission.Config{Rate: 1e-6, Burst: 1}
			})
			do(t, "POST", g.url+"/api/seckill/sku-1", `{"user_id":"a"}`)
			do(t, "POST", g.url+"/api/seckill/sku-1", `{"user_id":"b"}`)
			do(t, "GET", g.url+"/api/products", "")
			logs := g.logs.String()
			for _, want := range []string{"status=202", "path=/api/products status=200", "client=127.0.0.1"} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
			if got := strings.Contains(logs, "status=429"); got != tc.want429Log {
				t.Errorf("429 logged: %v, want %v:\n%s", got, tc.want429Log, logs)
			}
		})
	}
}

// TestGatewayCloseLeavesNoGoroutine: after the server and the gateway are
// closed, no goroutine of theirs is left (producer, admin, proxies).
func TestGatewayCloseLeavesNoGoroutine(t *testing.T) {
	c := mqtest.Start(t)
	upstream := httptest.NewServer(&fakeService{name: "order", ordered: map[string]bool{}})
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	before := runtime.NumGoroutine()

	g, err := New(Config{
		NameServers: []string{c.NamesrvAddr},
		OrderURL:    u, InventoryURL: u, PointsURL: u, CouponURL: u,
		Admission: admission.Config{Rate: 1000, Burst: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/seckill/sku-1", `{"user_id":"u1"}`},
		{"GET", "/api/orders/1", ""},
		{"GET", "/api/products", ""},
		{"GET", "/readyz", ""},
	} {
		if status, _, body := do(t, r.method, srv.URL+r.path, r.body); status >= 300 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, status, body)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	srv.Close()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before { // the servers notice the closed connections too
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after Close\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGatewayConfigErrors(t *testing.T) {
	_, err := New(Config{IDKey: []byte("short")})
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"no NameServer", "order service URL", "coupon service URL", "request ID key", "rate 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// BenchmarkGatewayReject measures a refused flash-sale request through the
// whole handler: request log (at info, so not written), router, parsing,
// the buckets and the 429. The broker is never contacted on this path, so
// none runs.
func BenchmarkGatewayReject(b *testing.B) {
	svc, _ := url.Parse("http://127.0.0.1:1")
	g, err := New(Config{
		NameServers: []string{"127.0.0.1:1"},
		OrderURL:    svc, InventoryURL: svc, PointsURL: svc, CouponURL: svc,
		Admission: admission.Config{Rate: 1e-9, Burst: 1, UserRate: 1, UserBurst: 1},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	h := g.Handler()
	body := &httpbench.Body{}
	req := httptest.NewRequest(http.MethodPost, "/api/seckill/sku-1", nil)
	req.Body = body
	w := httpbench.NewWriter()
	body.Reset(`{"user_id":"first"}`) // answered 503 (no broker), but takes the only token
	h.ServeHTTP(w, req)
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(`{"user_id":"user-42"}`)
		w.Reset()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusTooManyRequests {
			b.Fatalf("status %d", w.Code)
		}
	}
}
