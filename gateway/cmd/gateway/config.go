package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/gateway"
	"github.com/surge-mq/surge/gateway/clientip"
)

// settings is everything the environment configures.
type settings struct {
	gw              gateway.Config
	httpAddr        string
	shutdownTimeout time.Duration
	logFormat       string
	logLevel        slog.Level
}

// envVar is one environment variable: its default and how to apply it.
type envVar struct {
	name, def, help string
	set             func(s *settings, v string) error
}

// envVars is the configuration, in the order `gateway -h` lists it.
var envVars = []envVar{
	{"HTTP_ADDR", ":8080", "listen address", func(s *settings, v string) error { s.httpAddr = v; return nil }},
	{"NAMESRV_ADDR", "127.0.0.1:9876", "NameServer addresses, host:port;host:port", func(s *settings, v string) error {
		s.gw.NameServers = strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
		if len(s.gw.NameServers) == 0 {
			return errors.New("no address")
		}
		return nil
	}},
	{"ORDER_URL", "http://127.0.0.1:8081", "order service", setURL(func(s *settings) **url.URL { return &s.gw.OrderURL })},
	{"INVENTORY_URL", "http://127.0.0.1:8082", "inventory service", setURL(func(s *settings) **url.URL { return &s.gw.InventoryURL })},
	{"POINTS_URL", "http://127.0.0.1:8083", "points service", setURL(func(s *settings) **url.URL { return &s.gw.PointsURL })},
	{"COUPON_URL", "http://127.0.0.1:8084", "coupon service", setURL(func(s *settings) **url.URL { return &s.gw.CouponURL })},
	{"UPSTREAM_TIMEOUT", "10s", "bound of a proxied request (504 after it)", setDuration(func(s *settings) *time.Duration { return &s.gw.UpstreamTimeout })},
	{"SECKILL_RATE", "500", "global admissions per second", setFloat(func(s *settings) *float64 { return &s.gw.Admission.Rate })},
	{"SECKILL_BURST", "100", "global bucket size", setInt(func(s *settings) *int { return &s.gw.Admission.Burst })},
	{"SECKILL_USER_RATE", "1", "admissions per second per user; 0 = no per-user limit", setFloat(func(s *settings) *float64 { return &s.gw.Admission.UserRate })},
	{"SECKILL_USER_BURST", "2", "per-user bucket size", setInt(func(s *settings) *int { return &s.gw.Admission.UserBurst })},
	{"SECKILL_USER_MAX", "100000", "user buckets kept in memory at most", setInt(func(s *settings) *int { return &s.gw.Admission.MaxUsers })},
	{"SECKILL_SEND_TIMEOUT", "3s", "bound of the send of an admitted request (503 after it)", setDuration(func(s *settings) *time.Duration { return &s.gw.SendTimeout })},
	{"SECKILL_ID_KEY", "", "key signing request IDs, >= 16 bytes; empty = random at each start", func(s *settings, v string) error {
		if v != "" {
			s.gw.IDKey = []byte(v)
		}
		return nil
	}},
	{"SECKILL_ACK_BEFORE_SEND", "false", "teaching switch: answer 202 before the broker stored the request (loses requests)", func(s *settings, v string) error {
		b, err := strconv.ParseBool(v)
		s.gw.AckBeforeSend = b
		return err
	}},
	{"TRUSTED_PROXIES", "", "CIDRs whose X-Forwarded-For/Forwarded are believed", func(s *settings, v string) (err error) {
		s.gw.TrustedProxies, err = clientip.ParsePrefixes(v)
		return err
	}},
	{"SHUTDOWN_TIMEOUT", "30s", "how long shutdown waits for in-flight requests", setDuration(func(s *settings) *time.Duration { return &s.shutdownTimeout })},
	{"LOG_FORMAT", "text", "text or json", func(s *settings, v string) error {
		if v != "text" && v != "json" {
			return errors.New("want text or json")
		}
		s.logFormat = v
		return nil
	}},
	{"LOG_LEVEL", "info", "debug, info, warn or error", func(s *settings, v string) error { return s.logLevel.UnmarshalText([]byte(v)) }},
}

// loadSettings reads the environment, reporting every bad variable at once.
func loadSettings(getenv func(string) string) (settings, error) {
	var s settings
	var errs []error
	for _, e := range envVars {
		v := getenv(e.name)
		if v == "" {
			v = e.def
		}
		if err := e.set(&s, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", e.name, v, err))
		}
	}
	return s, errors.Join(errs...)
}

func printEnv(w io.Writer) {
	for _, e := range envVars {
		def := e.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %-24s %s (default %s)\n", e.name, e.help, def)
	}
}

func (s settings) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: s.logLevel}
	if s.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func setURL(field func(*settings) **url.URL) func(*settings, string) error {
	return func(s *settings, v string) error {
		u, err := url.Parse(v)
		if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
			err = errors.New("want http://host:port")
		}
		*field(s) = u
		return err
	}
}

func setDuration(field func(*settings) *time.Duration) func(*settings, string) error {
	return func(s *settings, v string) error {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errors.New("must be positive")
		}
		*field(s) = d
		return err
	}
}

func setFloat(field func(*settings) *float64) func(*settings, string) error {
	return func(s *settings, v string) (err error) {
		*field(s), err = strconv.ParseFloat(v, 64)
		return err
	}
}

func setInt(field func(*settings) *int) func(*settings, string) error {
	return func(s *settings, v string) (err error) {
		*field(s), err = strconv.Atoi(v)
		return err
	}
}
