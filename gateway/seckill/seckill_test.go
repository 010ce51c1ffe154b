package seckill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/gateway/admission"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/services/events"
)

// gateway is a seckill handler on a real broker, behind an HTTP server.
type gateway struct {
	cluster  *mqtest.Cluster
	handler  *Handler
	producer *client.Producer
	url      string
}

func startGateway(t *testing.T, lc admission.Config, ackBeforeSend bool) *gateway {
	t.Helper()
	c := mqtest.Start(t)
	p, err := client.NewProducer(client.WithNameServers(c.NamesrvAddr), client.WithGroup("gateway-test"), client.WithSendTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	lim, err := admission.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := NewIDs(RandomKey())
	h, err := New(Config{Limiter: lim, Producer: p, IDs: ids, AckBeforeSend: ackBeforeSend})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Pattern, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	return &gateway{cluster: c, handler: h, producer: p, url: srv.URL}
}

type answer struct {
	status     int
	retryAfter string
	accepted   Accepted
	errCode    string
}

func (g *gateway) post(t *testing.T, activity, user string) answer {
	t.Helper()
	resp, err := http.Post(g.url+"/api/seckill/"+activity, "application/json", strings.NewReader(fmt.Sprintf(`{"user_id":%q}`, user)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(body, &a.accepted); err != nil {
			t.Fatalf("202 body %s: %v", body, err)
		}
		return a
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%d body %s is not a JSON error: %v", resp.StatusCode, body, err)
	}
	a.errCode = e.Error.Code
	return a
}

// stored reads every message of SECKILL_REQUESTS back from the broker,
// keyed by request ID; it fails the test on a message that is not a
// well-formed SeckillRequested or on a request stored twice.
func stored(t *testing.T, c *mqtest.Cluster) map[string]events.SeckillRequested {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := client.NewAdmin(client.WithNameServers(c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	status, err := admin.TopicStatus(ctx, events.TopicSeckill)
	if errors.Is(err, client.ErrTopicNotFound) {
		return nil // nothing was ever stored
	}
	if err != nil {
		t.Fatalf("topic status: %v", err)
	}
	var total int64
	for _, o := range status {
		total += o.MaxOffset - o.MinOffset
	}
	out := map[string]events.SeckillRequested{}
	if total == 0 {
		return out
	}

	var mu sync.Mutex
	var bad []string
	done := make(chan struct{})
	seen := int64(0)
	cons, err := client.NewPushConsumer("gateway-test-reader", client.WithNameServers(c.NamesrvAddr), client.WithConsumeFromFirst())
	if err != nil {
		t.Fatal(err)
	}
	cons.Subscribe(events.TopicSeckill, "*", func(_ context.Context, msgs []*client.MessageExt) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			var ev events.SeckillRequested
			switch err := events.Decode(m.Body, &ev); {
			case err != nil:
				bad = append(bad, err.Error())
			case m.Tags() != events.TagSeckillRequested || m.Property("KEYS") != ev.RequestID:
				bad = append(bad, fmt.Sprintf("request %s: tag %q keys %q", ev.RequestID, m.Tags(), m.Property("KEYS")))
			default:
				if _, dup := out[ev.RequestID]; dup {
					bad = append(bad, "stored twice: "+ev.RequestID)
				}
				out[ev.RequestID] = ev
			}
			if seen++; seen == total {
				close(done)
			}
		}
		return nil
	})
	if err := cons.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("read %d of the %d messages of %s", seen, total, events.TopicSeckill)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("bad messages in %s: %v", events.TopicSeckill, bad)
	}
	return out
}

// TestSeckillStoresExactlyAccepted: under a burst of concurrent requests,
// the 202s are the burst and the topic holds exactly the 202'd requests.
func TestSeckillStoresExactlyAccepted(t *testing.T) {
	const burst = 20
	g := startGateway(t, admission.Config{Rate: 1e-6, Burst: burst, UserRate: 1e-6, UserBurst: 1}, false)

	var mu sync.Mutex
	accepted := map[string]string{} // request ID -> user
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				user := fmt.Sprintf("user-%d", (w*10+i)%30) // some users try twice
				a := g.post(t, "sku-1", user)
				mu.Lock()
				statuses[a.status]++
				if a.status == http.StatusAccepted {
					accepted[a.accepted.RequestID] = user
					if a.accepted.StatusURL != StatusPath+a.accepted.RequestID {
						t.Errorf("status_url %q", a.accepted.StatusURL)
					}
				} else if a.status == http.StatusTooManyRequests && (a.retryAfter == "" || a.errCode != "rate_limited") {
					t.Errorf("429 with Retry-After %q, code %q", a.retryAfter, a.errCode)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusAccepted] != burst || statuses[http.StatusTooManyRequests] != 80-burst {
		t.Fatalf("statuses %v, want %d × 202 and the rest 429", statuses, burst)
	}

	got := stored(t, g.cluster)
	if len(got) != len(accepted) {
		t.Errorf("topic holds %d requests, %d were accepted", len(got), len(accepted))
	}
	for id, user := range accepted {
		ev, ok := got[id]
		if !ok {
			t.Errorf("accepted request %s is not in the topic", id)
			continue
		}
		if ev.UserID != user || ev.Activity != "sku-1" || ev.RequestedAt.IsZero() {
			t.Errorf("request %s stored as %+v, want user %s activity sku-1", id, ev, user)
		}
	}
	s := g.handler.Stats().Snapshot()
	if s.Offered != 80 || s.Admitted != burst || s.Enqueued != burst || s.Rejected.Global+s.Rejected.User != 80-burst || s.EnqueueErrors != 0 || s.InFlight != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestSeckillBrokerDown: with the broker stopped every admitted request is
// answered 503, never 202; after a restart requests are queued again, and
// the topic holds exactly the requests answered 202.
func TestSeckillBrokerDown(t *testing.T) {
	g := startGateway(t, admission.Config{Rate: 1000, Burst: 1000}, false)
	accepted := map[string]bool{}
	post := func(user string, want int) {
		t.Helper()
		a := g.post(t, "sku-1", user)
		if a.status != want {
			t.Fatalf("%s: status %d (%s), want %d", user, a.status, a.errCode, want)
		}
		if a.status == http.StatusAccepted {
			accepted[a.accepted.RequestID] = true
		}
		if a.status == http.StatusServiceUnavailable && a.errCode != "broker_unavailable" {
			t.Errorf("503 code %q", a.errCode)
		}
	}
	post("before", http.StatusAccepted)
	g.cluster.StopBroker()
	for i := range 5 {
		post(fmt.Sprint("down-", i), http.StatusServiceUnavailable)
	}
	g.cluster.StartBroker()
	post("after", http.StatusAccepted)

	got := stored(t, g.cluster)
	if len(got) != len(accepted) {
		t.Errorf("topic holds %d requests, %d were accepted", len(got), len(accepted))
	}
	for id := range accepted {
		if _, ok := got[id]; !ok {
			t.Errorf("accepted request %s is not in the topic", id)
		}
	}
	if s := g.handler.Stats().Snapshot(); s.EnqueueErrors != 5 || s.Enqueued != 2 {
		t.Errorf("stats %+v, want 5 enqueue errors, 2 enqueued", s)
	}
}

// TestSeckillAckBeforeSend shows what the teaching switch costs: with the
// broker down, requests answered 202 never reach the topic when the switch
// is on; with it off no 202 is answered for them.
func TestSeckillAckBeforeSend(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ackBeforeSend bool
	}{
		{"off", false},
		{"on", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, admission.Config{Rate: 1000, Burst: 1000}, tc.ackBeforeSend)
			g.cluster.StopBroker()
			accepted := map[string]bool{}
			for i := range 5 {
				if a := g.post(t, "sku-1", fmt.Sprint("user-", i)); a.status == http.StatusAccepted {
					accepted[a.accepted.RequestID] = true
				}
			}
			g.producer.Close() // waits for background sends
			g.cluster.StartBroker()

			got := stored(t, g.cluster)
			var lost []string
			for id := range accepted {
				if _, ok := got[id]; !ok {
					lost = append(lost, id)
				}
			}
			s := g.handler.Stats().Snapshot()
			if tc.ackBeforeSend {
				if len(accepted) != 5 || len(lost) != 5 || s.EnqueueErrors != 5 {
					t.Errorf("switch on: %d answered 202, %d of them lost, %d enqueue errors; want 5, 5, 5", len(accepted), len(lost), s.EnqueueErrors)
				}
				return
			}
			if len(accepted) != 0 || len(lost) != 0 || s.EnqueueErrors != 5 {
				t.Errorf("switch off: %d answered 202, %d lost, %d enqueue errors; want 0, 0, 5", len(accepted), len(lost), s.EnqueueErrors)
			}
		})
	}
}

func TestSeckillBadRequests(t *testing.T) {
	lim, _ := admission.New(admission.Config{Rate: 1e-6, Burst: 1})
	ids, _ := NewIDs(RandomKey())
	p, _ := client.NewProducer(client.WithNameServers("127.0.0.1:1")) // never used: nothing is admitted
	defer p.Close()
	h, err := New(Config{Limiter: lim, Producer: p, IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Pattern, h)
	for _, tc := range []struct {
		name, path, body, wantMsg string
	}{
		{"not JSON", "/api/seckill/sku-1", `user=u1`, `body must be {"user_id":"..."}`},
		{"no user", "/api/seckill/sku-1", `{}`, "user_id is required"},
		{"user not a string", "/api/seckill/sku-1", `{"user_id":7}`, `body must be`},
		{"long user", "/api/seckill/sku-1", `{"user_id":"` + strings.Repeat("x", 129) + `"}`, "user_id longer than 128 bytes"},
		{"control character", "/api/seckill/sku-1", `{"user_id":"a\nb"}`, "user_id must be printable UTF-8"},
		{"huge body", "/api/seckill/sku-1", `{"user_id":"` + strings.Repeat("x", 5000) + `"}`, "body larger than 4096 bytes"},
		{"unprintable activity", "/api/seckill/a%01b", `{"user_id":"u1"}`, "activity must be printable UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body)))
			var e struct {
				Error struct{ Code, Message string }
			}
			json.Unmarshal(rec.Body.Bytes(), &e)
			if rec.Code != http.StatusBadRequest || e.Error.Code != "bad_request" || !strings.Contains(e.Error.Message, tc.wantMsg) {
				t.Errorf("got %d %s, want 400 saying %q", rec.Code, rec.Body, tc.wantMsg)
			}
		})
	}
	if s := h.Stats().Snapshot(); s.Invalid != 7 || s.Offered != 0 {
		t.Errorf("stats %+v, want 7 invalid and none offered", s)
	}

	// Well-formed but over the limit: 429, with no broker anywhere.
	lim.Admit("someone") // takes the only token
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/seckill/sku-1", strings.NewReader(`{"user_id":"u1"}`)))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("got %d Retry-After %q, want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}
