package main

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadSettingsDefaults(t *testing.T) {
	s, err := loadSettings(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	g := s.gw
	if s.httpAddr != ":8080" || g.NameServers[0] != "127.0.0.1:9876" || g.OrderURL.String() != "http://127.0.0.1:8081" ||
		g.InventoryURL.String() != "http://127.0.0.1:8082" || g.PointsURL.String() != "http://127.0.0.1:8083" || g.CouponURL.String() != "http://127.0.0.1:8084" {
		t.Errorf("addresses: %+v", s)
	}
	if a := g.Admission; a.Rate != 500 || a.Burst != 100 || a.UserRate != 1 || a.UserBurst != 2 || a.MaxUsers != 100000 {
		t.Errorf("admission: %+v", a)
	}
	if g.AckBeforeSend || g.IDKey != nil || len(g.TrustedProxies) != 0 || g.SendTimeout != 3*time.Second || g.UpstreamTimeout != 10*time.Second {
		t.Errorf("gateway: %+v", g)
	}
	if s.shutdownTimeout != 30*time.Second || s.logFormat != "text" || s.logLevel != slog.LevelInfo {
		t.Errorf("process: %+v", s)
	}
	if err := g.Admission.Validate(); err != nil {
		t.Errorf("default admission invalid: %v", err)
	}
}

func TestLoadSettingsOverrides(t *testing.T) {
	s, err := loadSettings(envOf(map[string]string{
		"NAMESRV_ADDR":            "10.0.0.1:9876;10.0.0.2:9876",
		"SECKILL_RATE":            "2.5",
		"SECKILL_USER_RATE":       "0",
		"SECKILL_ACK_BEFORE_SEND": "true",
		"SECKILL_ID_KEY":          "0123456789abcdef",
		"TRUSTED_PROXIES":         "10.0.0.0/8,172.16.0.1",
		"LOG_FORMAT":              "json",
		"LOG_LEVEL":               "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	g := s.gw
	if len(g.NameServers) != 2 || g.NameServers[1] != "10.0.0.2:9876" || g.Admission.Rate != 2.5 || g.Admission.UserRate != 0 ||
		!g.AckBeforeSend || string(g.IDKey) != "0123456789abcdef" || s.logFormat != "json" || s.logLevel != slog.LevelDebug {
		t.Errorf("%+v", s)
	}
	if len(g.TrustedProxies) != 2 || g.TrustedProxies[1] != netip.MustParsePrefix("172.16.0.1/32") {
		t.Errorf("trusted proxies %v", g.TrustedProxies)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	_, err := loadSettings(envOf(map[string]string{
		"NAMESRV_ADDR":            ";",
		"ORDER_URL":               "127.0.0.1:8081",
		"SECKILL_RATE":            "fast",
		"SECKILL_BURST":           "1.5",
		"UPSTREAM_TIMEOUT":        "-1s",
		"SECKILL_ACK_BEFORE_SEND": "maybe",
		"TRUSTED_PROXIES":         "10.0.0.0/33",
		"LOG_FORMAT":              "xml",
		"LOG_LEVEL":               "loud",
	}))
	if err == nil {
		t.Fatal("bad environment accepted")
	}
	for _, name := range []string{"NAMESRV_ADDR", "ORDER_URL", "SECKILL_RATE", "SECKILL_BURST", "UPSTREAM_TIMEOUT", "SECKILL_ACK_BEFORE_SEND", "TRUSTED_PROXIES", "LOG_FORMAT", "LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}
