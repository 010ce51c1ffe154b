package services_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/services/coupon"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/bus"
	"github.com/surge-mq/surge/services/internal/consume"
	"github.com/surge-mq/surge/services/internal/httpx"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/internal/svctest"
	"github.com/surge-mq/surge/services/inventory"
	"github.com/surge-mq/surge/services/order"
	"github.com/surge-mq/surge/services/points"
)

// platform is the four services in-process on a real broker and one
// database (a schema and a role each, as in production).
type platform struct {
	t     *testing.T
	c     *mqtest.Cluster
	admin *client.Admin
	pools map[string]*pgxpool.Pool
	svcs  map[string]app.Service
	urls  map[string]string
	muxes map[string]*swapHandler
}

var serviceNames = []string{"order", "inventory", "points", "coupon"}

// swapHandler serves the routes of a service's current instance, so that
// a restarted service keeps its URL.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := s.h.Load()
	if h == nil {
		httpx.WriteError(w, &httpx.Error{Status: http.StatusServiceUnavailable, Code: httpx.CodeUnavailable, Message: "stopped"})
		return
	}
	(*h).ServeHTTP(w, r)
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	p := &platform{t: t, c: mqtest.Start(t), pools: map[string]*pgxpool.Pool{}, svcs: map[string]app.Service{},
		urls: map[string]string{}, muxes: map[string]*swapHandler{}}
	admin, err := client.NewAdmin(client.WithNameServers(p.c.NamesrvAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	p.admin = admin
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, admin, bus.Topics...); err != nil {
		t.Fatal(err)
	}
	db := pgtest.New(t)
	for _, name := range serviceNames {
		p.pools[name] = db.Pool(t, name)
		p.muxes[name] = &swapHandler{}
		srv := httptest.NewServer(p.muxes[name])
		t.Cleanup(srv.Close)
		p.urls[name] = srv.URL
		p.start(name)
	}
	t.Cleanup(func() {
		for _, name := range serviceNames {
			p.stop(name)
		}
	})
	return p
}

// start starts a service (again) on its database and the broker.
func (p *platform) start(name string) {
	p.t.Helper()
	set := pipeline.Settings{Pool: p.pools[name], NameServers: []string{p.c.NamesrvAddr}, RelayInterval: 100 * time.Millisecond}
	var s app.Service
	switch name {
	case "order":
		s = order.New(order.Config{Settings: set})
	case "inventory":
		s = inventory.New(inventory.Config{Settings: set})
	case "points":
		s = points.New(points.Config{Settings: set})
	case "coupon":
		s = coupon.New(coupon.Config{Settings: set})
	}
	if err := s.Start(context.Background()); err != nil {
		p.t.Fatalf("start %s: %v", name, err)
	}
	r := httpx.NewRouter(nil)
	s.Routes(r)
	h := http.Handler(r)
	p.muxes[name].h.Store(&h)
	p.svcs[name] = s
}

// stop stops a service gracefully.
func (p *platform) stop(name string) {
	p.t.Helper()
	s := p.svcs[name]
	if s == nil {
		return
	}
	p.muxes[name].h.Store(nil)
	if err := s.Close(); err != nil {
		p.t.Errorf("stop %s: %v", name, err)
	}
	delete(p.svcs, name)
}

// query runs a one-value query in a service's schema.
func (p *platform) query(service string, dst any, sql string, args ...any) {
	p.t.Helper()
	if err := p.pools[service].QueryRow(context.Background(), sql, args...).Scan(dst); err != nil {
		p.t.Fatalf("%s: %s: %v", service, sql, err)
	}
}

// handles says which tags each service applies.
var handles = map[string][]string{
	"order":     {events.TagStockReserved, events.TagStockRejected},
	"inventory": {events.TagOrderCreated, events.TagOrderCancelled},
	"points":    {events.TagOrderConfirmed},
	"coupon":    {events.TagOrderConfirmed},
}

// stats returns the consumer counts of every running service.
func (p *platform) stats() map[string]consume.Stats {
	out := map[string]consume.Stats{}
	for name, s := range p.svcs {
		out[name] = s.(interface{ Stats() consume.Stats }).Stats()
	}
	return out
}

// settled reports whether no outbox holds an unsent event.
func (p *platform) settled() bool {
	for _, svc := range []string{"order", "inventory"} {
		var unsent int
		p.query(svc, &unsent, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
		if unsent > 0 {
			return false
		}
	}
	return true
}

// messages returns every message of topic, read by a group of its own.
func (p *platform) messages(topic string) []*client.MessageExt {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, err := p.admin.TopicStatus(ctx, topic)
	if err != nil {
		p.t.Fatal(err)
	}
	var want int64
	for _, o := range status {
		want += o.MaxOffset - o.MinOffset
	}
	ch := svctest.Collect(p.t, p.c.NamesrvAddr, "replay-"+topic, topic, "*")
	var out []*client.MessageExt
	for int64(len(out)) < want {
		select {
		case m := <-ch:
			out = append(out, m)
		case <-time.After(30 * time.Second):
			p.t.Fatalf("read %d of %d messages of %s", len(out), want, topic)
		}
	}
	return out
}

// resend sends copies of msgs (new message IDs, same tags, keys and
// bodies) into their queue by key, as a producer's retry or a broker's
// redelivery would.
func (p *platform) resend(msgs []*client.MessageExt) {
	p.t.Helper()
	prod, err := client.NewProducer(client.WithNameServers(p.c.NamesrvAddr), client.WithGroup("replayer"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer prod.Close()
	for _, m := range msgs {
		keys := protocol.Keys(m.Property(protocol.PropertyKeys))
		var opts []client.SendOption
		if len(keys) > 0 {
			opts = append(opts, client.WithSelector(client.ByKey(keys[0])))
		}
		if _, err := prod.Send(context.Background(), &client.Message{Topic: m.Topic, Tags: m.Tags(), Keys: keys, Body: m.Body}, opts...); err != nil {
			p.t.Fatal(err)
		}
	}
}
