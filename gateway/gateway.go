package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/surge-mq/surge/gateway/admission"
	"github.com/surge-mq/surge/gateway/clientip"
	"github.com/surge-mq/surge/gateway/internal/apierror"
	"github.com/surge-mq/surge/gateway/proxy"
	"github.com/surge-mq/surge/gateway/seckill"
	"github.com/surge-mq/surge/mq/client"
)

// ProducerGroup is the producer group of the gateway's sends.
const ProducerGroup = "surge-gateway"

// Config is the gateway's configuration. Zero durations mean the default.
type Config struct {
	// NameServers are the broker's NameServer addresses. Required.
	NameServers []string
	// OrderURL, InventoryURL, PointsURL and CouponURL are the services'
	// base URLs. Required.
	OrderURL, InventoryURL, PointsURL, CouponURL *url.URL
	// UpstreamTimeout bounds a forwarded request. Default 10s.
	UpstreamTimeout time.Duration
	// Admission sets the token buckets.
	Admission admission.Config
	// SendTimeout bounds the send of an admitted request. Default 3s.
	SendTimeout time.Duration
	// AckBeforeSend is the teaching switch: answer 202 before the broker
	// confirmed the send. Default off.
	AckBeforeSend bool
	// IDKey signs request IDs (at least 16 bytes). Default: a random key,
	// so IDs issued before a restart are no longer recognised.
	IDKey []byte
	// TrustedProxies are the networks whose X-Forwarded-For and Forwarded
	// headers are believed when logging the client's address. Default none.
	TrustedProxies []netip.Prefix
	// ReadyTimeout bounds the broker check of /readyz. Default 2s.
	ReadyTimeout time.Duration
	// Logger logs requests and failures. Default: discard.
	Logger *slog.Logger
}

// Gateway is the HTTP edge. Serve Handler with an http.Server; after the
// server has shut down, Close the gateway.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	producer *client.Producer
	admin    *client.Admin
	seckill  *seckill.Handler
	clients  *clientip.Resolver
	upstream *http.Transport // shared by the proxies
	handler  http.Handler
}

// New builds a gateway. It does not connect to anything yet: the broker
// is reached at the first send or readiness check.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = proxy.DefaultTimeout
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = seckill.DefaultSendTimeout
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	if cfg.IDKey == nil {
		cfg.IDKey = seckill.RandomKey()
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, clients: clientip.New(cfg.TrustedProxies), upstream: proxy.NewTransport(cfg.UpstreamTimeout)}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	lim, err := admission.New(cfg.Admission)
	if err != nil {
		return nil, err
	}
	ids, err := seckill.NewIDs(cfg.IDKey)
	if err != nil {
		return nil, err
	}
	if g.producer, err = client.NewProducer(client.WithNameServers(cfg.NameServers...), client.WithGroup(ProducerGroup),
		client.WithSendTimeout(cfg.SendTimeout), client.WithLogger(g.log)); err != nil {
		return nil, fmt.Errorf("gateway: producer: %w", err)
	}
	if g.admin, err = client.NewAdmin(client.WithNameServers(cfg.NameServers...), client.WithSendTimeout(cfg.ReadyTimeout)); err != nil {
		g.producer.Close()
		return nil, fmt.Errorf("gateway: admin: %w", err)
	}
	g.seckill, _ = seckill.New(seckill.Config{ // every field is set: cannot fail
		Limiter: lim, Producer: g.producer, IDs: ids,
		SendTimeout: cfg.SendTimeout, AckBeforeSend: cfg.AckBeforeSend, Logger: g.log,
	})
	g.handler = g.logRequests(g.routes())
	if cfg.AckBeforeSend {
		g.log.Warn("teaching switch on: seckill requests are answered 202 before the broker stores them, and may be lost")
	}
	return g, nil
}

func (c Config) validate() error {
	var errs []error
	if len(c.NameServers) == 0 {
		errs = append(errs, errors.New("gateway: no NameServer address"))
	}
	for _, svc := range []struct {
		name string
		url  *url.URL
	}{{"order", c.OrderURL}, {"inventory", c.InventoryURL}, {"points", c.PointsURL}, {"coupon", c.CouponURL}} {
		if u := svc.url; u == nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("gateway: %s service URL %v: want scheme://host[:port]", svc.name, u))
		}
	}
	if c.IDKey != nil && len(c.IDKey) < seckill.MinKeyLen {
		errs = append(errs, seckill.ErrShortKey)
	}
	errs = append(errs, c.Admission.Validate())
	return errors.Join(errs...)
}

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Stats returns the flash-sale counters.
func (g *Gateway) Stats() *seckill.Stats { return g.seckill.Stats() }

// Close waits for background sends (AckBeforeSend) and releases the broker
// and upstream connections. Call it after the HTTP server has shut down, so
// that no handler is still sending.
func (g *Gateway) Close() error {
	g.upstream.CloseIdleConnections()
	return errors.Join(g.producer.Close(), g.admin.Close())
}

// routes builds the router: the API, health and metrics.
func (g *Gateway) routes() http.Handler {
	mux := http.NewServeMux()
	upstream := func(name string, u *url.URL) proxy.Upstream {
		return proxy.Upstream{Name: name, URL: u, StripPrefix: "/api", Timeout: g.cfg.UpstreamTimeout, Transport: g.upstream, Logger: g.log}
	}
	for _, r := range []struct {
		prefix string
		up     proxy.Upstream
	}{
		{"/api/orders", upstream("order", g.cfg.OrderURL)},
		{"/api/products", upstream("inventory", g.cfg.InventoryURL)},
		{"/api/points", upstream("points", g.cfg.PointsURL)},
		{"/api/coupons", upstream("coupon", g.cfg.CouponURL)},
	} {
		h := proxy.New(r.up)
		mux.Handle(r.prefix, h)
		mux.Handle(r.prefix+"/", h)
	}

	status := upstream("order", g.cfg.OrderURL)
	status.ModifyResponse = g.seckill.QueuedWhenUnknown
	mux.Handle(seckill.Pattern, g.seckill)
	mux.Handle(seckill.StatusPattern, proxy.New(status))
	mux.HandleFunc("/api/seckill/{activity}", methodNotAllowed("POST"))
	mux.HandleFunc("/api/seckill/requests/{id}", methodNotAllowed("GET"))
	mux.Handle("GET /api/stats", g.seckill.Stats())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(g.seckill.Stats().Collectors()...)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		apierror.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", g.ready)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apierror.Write(w, http.StatusNotFound, apierror.CodeNotFound, "no route for "+r.URL.Path)
	})
	return mux
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		apierror.Write(w, http.StatusMethodNotAllowed, apierror.CodeMethodNotAllowed, r.Method+" not allowed here; use "+allow)
	}
}
