package app_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/surge-mq/surge/mq/mqtest"
	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/env"
	"github.com/surge-mq/surge/services/internal/pg"
	"github.com/surge-mq/surge/services/internal/pgtest"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/internal/svctest"
	"github.com/surge-mq/surge/services/points"
)

// pointsSpec runs the points service, as its binary does.
var pointsSpec = app.Spec[struct{}]{Name: "points", DefaultAddr: ":8083",
	Build: func(set pipeline.Settings, _ struct{}) app.Service { return points.New(points.Config{Settings: set}) }}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// syncBuffer is a log destination the test reads while Run writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A service binary migrates its empty schema as its own role, creates
// the topics, becomes ready, serves, and stops cleanly when its context
// ends.
func TestRunMigratesServesAndStops(t *testing.T) {
	t.Parallel()
	c := mqtest.Start(t)
	db := pgtest.New(t)
	admin, err := pgx.Connect(context.Background(), db.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	// An empty schema, as bootstrap.sql leaves it before the first start.
	if _, err := admin.Exec(context.Background(), "DROP SCHEMA points CASCADE; CREATE SCHEMA points AUTHORIZATION points_svc"); err != nil {
		t.Fatal(err)
	}
	admin.Close(context.Background())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{"HTTP_ADDR": addr, "NAMESRV_ADDR": c.NamesrvAddr, "DATABASE_URL": db.URL("points"), "LOG_FORMAT": "json"}
	var logs syncBuffer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, pointsSpec, env.New(lookup(vars)), &logs) }()

	url := "http://" + addr
	svctest.WaitFor(t, 60*time.Second, "readiness", func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	var a points.Account
	if code, raw := svctest.Do(t, "GET", url+"/points/ann", nil, &a); code != 200 || a.UserID != "ann" {
		t.Fatalf("GET /points/ann: %d %s", code, raw)
	}
	// Without a broker the service is alive but not ready, and says why.
	c.StopBroker()
	svctest.WaitFor(t, 30*time.Second, "503 naming the broker", func() bool {
		code, raw := svctest.Do(t, "GET", url+"/readyz", nil, nil)
		return code == 503 && svctest.ErrorCode(raw) == "not_ready" && strings.Contains(raw, "broker")
	})
	if code, _ := svctest.Do(t, "GET", url+"/healthz", nil, nil); code != 200 {
		t.Fatalf("healthz %d without a broker", code)
	}
	c.StartBroker()
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, want := range []string{`"msg":"migration applied"`, `"service":"points"`, `"msg":"shutting down"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}

func TestRunReportsEveryConfigurationProblem(t *testing.T) {
	t.Parallel()
	err := app.Run(context.Background(), pointsSpec, env.New(lookup(map[string]string{
		"LOG_FORMAT": "xml", "LOG_LEVEL": "loud", "TEACH_SKIP_IDEMPOTENCY": "sometimes", "SHUTDOWN_GRACE": "-1s", "DB_MAX_CONNS": "0",
	})), &bytes.Buffer{})
	if err == nil {
		t.Fatal("Run accepted a bad configuration")
	}
	for _, want := range []string{"DATABASE_URL", "LOG_FORMAT", "LOG_LEVEL", "TEACH_SKIP_IDEMPOTENCY", "SHUTDOWN_GRACE", "DB_MAX_CONNS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

// An unreachable database is waited for until the context ends; a URL
// that cannot be parsed fails at once.
func TestRunWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var logs syncBuffer
	err = app.Run(ctx, pointsSpec, env.New(lookup(map[string]string{"DATABASE_URL": "postgres://u:p@" + closed + "/surge?connect_timeout=1"})), &logs)
	if err == nil || !strings.Contains(err.Error(), "waiting for the database") || !strings.Contains(logs.String(), "database not ready") {
		t.Fatalf("unreachable database: %v\n%s", err, logs.String())
	}
	err = app.Run(context.Background(), pointsSpec, env.New(lookup(map[string]string{"DATABASE_URL": "postgres://u:p@host:notaport/db"})), &logs)
	if !errors.Is(err, pg.ErrBadURL) {
		t.Fatalf("bad URL: %v", err)
	}
}
