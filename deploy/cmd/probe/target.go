package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A target is one thing to check: an HTTP URL that must answer 2xx, or a
// TCP address that must accept a connection.
type target struct {
	raw  string
	kind string // "http" or "tcp"
	addr string // host:port for tcp
}

func parseTarget(s string) (target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return target{}, fmt.Errorf("target %q: %w", s, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return target{}, fmt.Errorf("target %q: no host", s)
		}
		return target{raw: s, kind: "http"}, nil
	case "tcp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil || u.Path != "" {
			return target{}, fmt.Errorf("target %q: want tcp://host:port", s)
		}
		return target{raw: s, kind: "tcp", addr: u.Host}, nil
	}
	return target{}, fmt.Errorf("target %q: scheme must be http, https or tcp", s)
}

func (t target) check(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.kind == "tcp" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", t.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", t.raw, err)
		}
		return c.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.raw, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", t.raw, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("%s: %s %s", t.raw, resp.Status, strings.TrimSpace(string(body)))
}
