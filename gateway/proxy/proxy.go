// Package proxy forwards the public API to the service that owns it: a
// reverse proxy per upstream that strips the public prefix from the path,
// bounds each request with a timeout and answers the platform's JSON errors
// when the upstream cannot be reached (502) or is too slow (504).
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/surge-mq/surge/gateway/internal/apierror"
)

// DefaultTimeout bounds a forwarded request when Upstream.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Upstream describes one service and how requests reach it.
type Upstream struct {
	// Name names the service in errors and logs ("order").
	Name string
	// URL is the service's base URL; its path, if any, is prepended.
	URL *url.URL
	// StripPrefix is removed from the request path: "/api" sends
	// /api/orders/7 to <URL>/orders/7.
	StripPrefix string
	// Timeout bounds the whole request, answer included. Default 10s.
	Timeout time.Duration
	// ModifyResponse, if set, may change the upstream's answer.
	ModifyResponse func(*http.Response) error
	// Transport carries the requests. Default: NewTransport(Timeout), of
	// this upstream alone.
	Transport http.RoundTripper
	// Logger logs upstream failures. Default: discard.
	Logger *slog.Logger
}

// New returns a handler forwarding to u.
func New(u Upstream) http.Handler {
	if u.Timeout <= 0 {
		u.Timeout = DefaultTimeout
	}
	if u.Logger == nil {
		u.Logger = slog.New(slog.DiscardHandler)
	}
	if u.Transport == nil {
		u.Transport = NewTransport(u.Timeout)
	}
	h := &handler{up: u}
	h.rp = &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      u.Transport,
		ModifyResponse: h.modify,
		ErrorHandler:   h.fail,
	}
	return h
}

// NewTransport returns a transport for upstreams: direct connections,
// a dial timeout of at most 5s, and timeout for the response headers.
// Several upstreams may share one; its owner calls CloseIdleConnections
// when done.
func NewTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // the services are reached directly
		DialContext:           (&net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
}

type handler struct {
	up Upstream
	rp *httputil.ReverseProxy
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.up.Timeout)
	defer cancel()
	h.rp.ServeHTTP(w, r.WithContext(ctx))
}

func (h *handler) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, h.up.StripPrefix)
	if pr.In.URL.RawPath != "" {
		pr.Out.URL.RawPath = strings.TrimPrefix(pr.In.URL.RawPath, h.up.StripPrefix)
	}
	pr.SetURL(h.up.URL)
	pr.SetXForwarded()
}

// modify puts the public prefix back on a Location the upstream gave as a
// path of its own (201 Created's /orders/7 is /api/orders/7 here), then
// applies the upstream's ModifyResponse.
func (h *handler) modify(resp *http.Response) error {
	if loc := resp.Header.Get("Location"); h.up.StripPrefix != "" && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
		resp.Header.Set("Location", h.up.StripPrefix+loc)
	}
	if h.up.ModifyResponse != nil {
		return h.up.ModifyResponse(resp)
	}
	return nil
}

// fail answers a request the upstream did not answer.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusBadGateway, apierror.CodeUpstreamFailed, h.up.Name+" service unavailable"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status, code, msg = http.StatusGatewayTimeout, apierror.CodeUpstreamTimeout, h.up.Name+" service did not answer in time"
	}
	h.up.Logger.LogAttrs(r.Context(), slog.LevelWarn, "upstream failed",
		slog.String("upstream", h.up.Name), slog.String("upstream_path", r.URL.Path), slog.Int("status", status), slog.Any("err", err))
	apierror.Write(w, status, code, msg)
}
