package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// fakePlatform is test scaffolding: a gateway, inventory and order
// consumer that keep the platform contract, small enough to read in one
// go. Admission is a token bucket; admitted requests go through a real
// broker (mqtest) to a consumer group that sells the stock. The teaching
// switches break the order side the way the real services' switches do.
type fakePlatform struct {
	Gateway, Inventory *httptest.Server
	Cluster            *mqtest.Cluster

	oversell, duplicates bool
	consumeDelay         time.Duration

	limiter  *rate.Limiter
	producer *client.Producer
	nextID   atomic.Int64

	mu       sync.Mutex // guards the fields below
	stock    int64
	issued   map[string]bool
	statuses map[string]RequestStatus
	buyers   map[string]bool
	counts   map[string]int
}

const (
	fakeTopic = "SECKILL_REQUESTS"
	fakeGroup = "order-seckill"
)

type fakeOption func(*fakePlatform)

func withOversell() fakeOption   { return func(f *fakePlatform) { f.oversell = true } }
func withDuplicates() fakeOption { return func(f *fakePlatform) { f.duplicates = true } }
func withConsumeDelay(d time.Duration) fakeOption {
	return func(f *fakePlatform) { f.consumeDelay = d }
}

func startFakePlatform(t *testing.T, admitRate float64, burst int, opts ...fakeOption) *fakePlatform {
	t.Helper()
	f := &fakePlatform{limiter: rate.NewLimiter(rate.Limit(admitRate), burst), consumeDelay: time.Millisecond,
		issued: map[string]bool{}, statuses: map[string]RequestStatus{}, buyers: map[string]bool{}, counts: map[string]int{}}
	for _, o := range opts {
		o(f)
	}
	f.Cluster = mqtest.Start(t)
	ctx := t.Context()
	admin, err := client.NewAdmin(client.WithNameServers(f.Cluster.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.CreateTopic(ctx, "", client.TopicConfig{Name: fakeTopic, ReadQueueNums: 4, WriteQueueNums: 4}); err != nil {
		t.Fatal(err)
	}
	// The NameServer learns the topic at the broker's next registration.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := admin.TopicRoute(ctx, fakeTopic)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s not routable after 30s: %v", fakeTopic, err)
		}
	}
	if f.producer, err = client.NewProducer(client.WithNameServers(f.Cluster.NamesrvAddr), client.WithGroup("fake-gateway")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.producer.Close() })
	consumer, err := client.NewPushConsumer(fakeGroup, client.WithNameServers(f.Cluster.NamesrvAddr), client.WithConsumeFromFirst())
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Subscribe(fakeTopic, "*", f.consume); err != nil {
		t.Fatal(err)
	}
	if err := consumer.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { consumer.Close() })

	gw := http.NewServeMux()
	gw.HandleFunc("POST /api/seckill/{activity}", f.admit)
	gw.HandleFunc("GET /api/seckill/requests/{id}", f.status)
	gw.HandleFunc("GET /api/stats", f.stats)
	f.Gateway = httptest.NewServer(gw)
	t.Cleanup(f.Gateway.Close)
	inv := http.NewServeMux()
	inv.HandleFunc("PUT /admin/products/{sku}", f.setProduct)
	inv.HandleFunc("GET /products/{sku}", f.product)
	f.Inventory = httptest.NewServer(inv)
	t.Cleanup(f.Inventory.Close)
	return f
}

func (f *fakePlatform) count(name string) {
	f.mu.Lock()
	f.counts[name]++
	f.mu.Unlock()
}

type seckillMessage struct {
	RequestID string `json:"request_id"`
	UserID    string `json:"user_id"`
}

func (f *fakePlatform) admit(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"user_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.UserID == "" {
		http.Error(w, `{"error":{"code":"bad_request","message":"user_id required"}}`, http.StatusBadRequest)
		return
	}
	if !f.limiter.Allow() {
		f.count("rejected")
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":{"code":"rate_limited","message":"try later"}}`, http.StatusTooManyRequests)
		return
	}
	id := fmt.Sprintf("req-%d", f.nextID.Add(1))
	body, _ := json.Marshal(seckillMessage{RequestID: id, UserID: in.UserID})
	f.mu.Lock()
	f.issued[id] = true
	f.mu.Unlock()
	if _, err := f.producer.Send(r.Context(), &client.Message{Topic: fakeTopic, Body: body, Keys: []string{id}}); err != nil {
		f.count("unavailable")
		http.Error(w, `{"error":{"code":"queue_unavailable","message":"broker down"}}`, http.StatusServiceUnavailable)
		return
	}
	f.count("admitted")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(Admission{RequestID: id, StatusURL: "/api/seckill/requests/" + id})
}

func (f *fakePlatform) status(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	st, ok := f.statuses[id]
	issued := f.issued[id]
	f.mu.Unlock()
	switch {
	case ok:
	case issued:
		st = RequestStatus{RequestID: id, Status: StatusQueued}
	default:
		http.Error(w, `{"error":{"code":"not_found","message":"no such request"}}`, http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(st)
}

func (f *fakePlatform) stats(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(f.counts)
}

func (f *fakePlatform) setProduct(w http.ResponseWriter, r *http.Request) {
	var p Product
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.stock = p.Stock
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(p)
}

func (f *fakePlatform) product(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(Product{SKU: r.PathValue("sku"), Stock: f.stock})
}

// consume is the order service: one order per user, none beyond the
// stock, unless a teaching switch says otherwise.
func (f *fakePlatform) consume(_ context.Context, msgs []*client.MessageExt) error {
	for _, m := range msgs {
		time.Sleep(f.consumeDelay)
		var req seckillMessage
		if err := json.Unmarshal(m.Body, &req); err != nil {
			return err
		}
		f.mu.Lock()
		switch {
		case f.statuses[req.RequestID].Status != "":
			// redelivered: already decided
		case f.buyers[req.UserID] && !f.duplicates:
			f.statuses[req.RequestID] = RequestStatus{RequestID: req.RequestID, Status: StatusRejected, Reason: "duplicate"}
		case f.stock <= 0 && !f.oversell:
			f.statuses[req.RequestID] = RequestStatus{RequestID: req.RequestID, Status: StatusRejected, Reason: "sold_out"}
		default:
			f.stock--
			f.buyers[req.UserID] = true
			f.statuses[req.RequestID] = RequestStatus{RequestID: req.RequestID, Status: StatusOrdered, OrderID: "ord-" + req.RequestID}
		}
		f.mu.Unlock()
	}
	return nil
}

// config is a short spike against the fake platform.
func (f *fakePlatform) config(t *testing.T, stock int64, users int) Config {
	t.Helper()
	p, err := SpikeProfile(40, 10, time.Second, 2*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.NewAdmin(client.WithNameServers(f.Cluster.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return Config{
		API:           &API{Gateway: f.Gateway.URL, Inventory: f.Inventory.URL},
		Activity:      "FLASH-T",
		Profile:       p,
		Users:         users,
		Stock:         stock,
		Backlog:       ConsumerLag{Admin: admin, Group: fakeGroup, Topic: fakeTopic},
		SettleTimeout: 60 * time.Second,
		PollInterval:  50 * time.Millisecond,
	}
}

func TestRunAgainstFakePlatform(t *testing.T) {
	f := startFakePlatform(t, 100, 10)
	res, err := Run(t.Context(), f.config(t, 100, 500))
	if err != nil {
		t.Fatal(err)
	}
	var buf = new(testWriter)
	_ = WriteSummary(buf, res)
	t.Logf("summary:\n%s", buf)
	if !res.Verdict.Passed() {
		t.Fatalf("verdict failed: %q", res.Verdict.Failed())
	}
	tot := res.Totals
	want := int(res.Profile.Hits(res.Profile.Total()))
	if tot.Sent < want-1 || tot.Sent > want {
		t.Errorf("sent %d requests, the profile schedules %d", tot.Sent, want)
	}
	// The bucket admits 100/s (+10 burst) for 4 s: the spike is shaved.
	if tot.Admitted > 100*5+10 || tot.Rejected == 0 {
		t.Errorf("admitted %d, rejected %d: the spike was not shaved", tot.Admitted, tot.Rejected)
	}
	c := res.Verdict.Counts
	if c.Ordered != 100 || c.Ordered+c.Rejected != tot.Admitted {
		t.Errorf("ordered %d + rejected %d, admitted %d, stock 100", c.Ordered, c.Rejected, tot.Admitted)
	}
	var backlogRead, consumed bool
	for _, s := range res.Samples {
		backlogRead = backlogRead || s.Backlog != nil
		consumed = consumed || (s.Consumed != nil && *s.Consumed > 0)
	}
	if !backlogRead || !consumed {
		t.Errorf("backlog read %v, consume rate seen %v: the broker's consumer progress was not sampled", backlogRead, consumed)
	}
	if res.Stats["admitted"] == nil {
		t.Errorf("gateway stats not read: %v", res.Stats)
	}
	dir := t.TempDir()
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
}

func TestRunCatchesTeachingSwitches(t *testing.T) {
	tests := []struct {
		name  string
		opt   fakeOption
		users int
		want  []string
	}{
		// Many users: the stock runs out and is sold beyond.
		{"oversell", withOversell(), 500, []string{"sold ≤ stock", "stock never negative"}},
		// Few users and stock beyond the users: repeats are sure.
		{"duplicates", withDuplicates(), 20, []string{"one order per user"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakePlatform(t, 100, 10, tc.opt)
			res, err := Run(t.Context(), f.config(t, 30, tc.users))
			if err != nil {
				t.Fatal(err)
			}
			failed := res.Verdict.Failed()
			for _, w := range tc.want {
				if !contains(failed, w) {
					t.Errorf("check %q did not fail; failed: %q", w, failed)
				}
			}
		})
	}
}

func TestRunSlowConsumer(t *testing.T) {
	// At most 4 queues × 10 messages/s consumed against 100/s admitted:
	// the backlog grows through the spike and drains in the settle phase.
	f := startFakePlatform(t, 100, 10, withConsumeDelay(100*time.Millisecond))
	res, err := Run(t.Context(), f.config(t, 100, 500))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Passed() {
		t.Fatalf("verdict failed: %q", res.Verdict.Failed())
	}
	var peak int64
	var last *int64
	var settled int
	for _, s := range res.Samples {
		if s.Backlog != nil {
			peak = max(peak, *s.Backlog)
			last = s.Backlog
		}
		if s.Phase == PhaseSettle {
			settled += s.Processed()
		}
	}
	if peak < 50 {
		t.Errorf("peak backlog %d, want it to grow past 50 with a slow consumer", peak)
	}
	if last == nil || *last != 0 {
		t.Errorf("last backlog reading %v, want 0: drained", last)
	}
	if settled == 0 {
		t.Error("no outcome in the settle phase: the drain is not on the charts")
	}
}

func TestRunBrokerRestartDuringSpike(t *testing.T) {
	f := startFakePlatform(t, 100, 10)
	cfg := f.config(t, 100, 500)
	restarted := false
	cfg.DuringSpike = func(context.Context) error {
		f.Cluster.RestartBroker()
		restarted = true
		return nil
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !restarted {
		t.Fatal("the during-spike hook did not run")
	}
	// Requests that met the broker down got 503; none that got 202 is lost.
	if !res.Verdict.Passed() {
		t.Fatalf("verdict failed after a broker restart: %q\nnotes: %q", res.Verdict.Failed(), res.Notes)
	}
	if res.Verdict.Counts.Ordered != 100 {
		t.Errorf("ordered %d, want the whole stock of 100", res.Verdict.Counts.Ordered)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

type testWriter struct{ b []byte }

func (w *testWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *testWriter) String() string              { return string(w.b) }
