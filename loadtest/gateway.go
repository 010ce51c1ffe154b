package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Request outcomes as the order service names them.
const (
	StatusQueued   = "QUEUED"
	StatusOrdered  = "ORDERED"
	StatusRejected = "REJECTED"
)

// Errors returned by the HTTP calls. Compare with errors.Is.
var (
	ErrNotFound   = errors.New("loadtest: not found")
	ErrBadAnswer  = errors.New("loadtest: unexpected answer")
	ErrNoResource = errors.New("loadtest: no inventory URL configured")
)

// Admission is the gateway's 202 answer to a seckill request.
type Admission struct {
	RequestID string `json:"request_id"`
	StatusURL string `json:"status_url"`
}

// RequestStatus is a seckill request's state, from
// GET /api/seckill/requests/{id}.
type RequestStatus struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	OrderID   string `json:"order_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Settled reports whether the status is final.
func (s RequestStatus) Settled() bool {
	return s.Status == StatusOrdered || s.Status == StatusRejected
}

// Product is the part of the inventory's product we read and set.
type Product struct {
	SKU        string `json:"sku,omitempty"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int64  `json:"stock"`
}

// API talks to the gateway and, for stock, to the inventory service: the
// gateway does not proxy inventory's /admin routes.
type API struct {
	// Gateway is the gateway's base URL, e.g. http://127.0.0.1:8080.
	Gateway string
	// Inventory is the inventory service's base URL, e.g.
	// http://127.0.0.1:8082; "" means stock can be neither set nor read.
	Inventory string
	// Client makes the calls; nil means http.DefaultClient.
	Client *http.Client
}

func (a *API) client() *http.Client {
	if a.Client != nil {
		return a.Client
	}
	return http.DefaultClient
}

// do sends a request and decodes a JSON answer with the wanted status into
// out (if not nil).
func (a *API) do(ctx context.Context, method, u string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, u, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, u, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w: %s", method, u, ErrNotFound, bytes.TrimSpace(b))
	case resp.StatusCode != want && !(want == http.StatusOK && resp.StatusCode == http.StatusCreated):
		return fmt.Errorf("%s %s: %w: status %d: %s", method, u, ErrBadAnswer, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w: %v", method, u, ErrBadAnswer, err)
		}
	}
	return nil
}

// SeckillURL is where requests for an activity are posted.
func (a *API) SeckillURL(activity string) string {
	return strings.TrimRight(a.Gateway, "/") + "/api/seckill/" + url.PathEscape(activity)
}

// Status returns a seckill request's status.
func (a *API) Status(ctx context.Context, requestID string) (RequestStatus, error) {
	var s RequestStatus
	err := a.do(ctx, http.MethodGet, strings.TrimRight(a.Gateway, "/")+"/api/seckill/requests/"+url.PathEscape(requestID), nil, &s, http.StatusOK)
	return s, err
}

// Stats returns the gateway's counters.
func (a *API) Stats(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	err := a.do(ctx, http.MethodGet, strings.TrimRight(a.Gateway, "/")+"/api/stats", nil, &m, http.StatusOK)
	return m, err
}

// SetStock creates the product or sets its stock.
func (a *API) SetStock(ctx context.Context, sku string, p Product) error {
	if a.Inventory == "" {
		return ErrNoResource
	}
	return a.do(ctx, http.MethodPut, strings.TrimRight(a.Inventory, "/")+"/admin/products/"+url.PathEscape(sku), p, nil, http.StatusOK)
}

// Stock returns the product's stock.
func (a *API) Stock(ctx context.Context, sku string) (int64, error) {
	if a.Inventory == "" {
		return 0, ErrNoResource
	}
	var p Product
	if err := a.do(ctx, http.MethodGet, strings.TrimRight(a.Inventory, "/")+"/products/"+url.PathEscape(sku), nil, &p, http.StatusOK); err != nil {
		return 0, err
	}
	return p.Stock, nil
}
