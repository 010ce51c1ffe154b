// Package app runs a service binary: it reads the common environment,
// sets up logging, opens the database and migrates the service's schema,
// makes sure the broker's topics exist, starts the service, serves HTTP
// with /healthz and /readyz, and shuts everything down in order on
// SIGINT/SIGTERM.
//
// Environment read here (every service):
//
//	HTTP_ADDR      listen address (default per service)
//	NAMESRV_ADDR   NameServers, "host:port;host:port" (default 127.0.0.1:9876)
//	DATABASE_URL   the service's own role (required)
//	LOG_FORMAT     text | json (default text)
//	LOG_LEVEL      debug | info | warn | error (default info)
//	SHUTDOWN_GRACE how long in-flight HTTP requests may take at shutdown (default 10s)
//	DB_MAX_CONNS   database connections at most (default 16)
//	OUTBOX_INTERVAL how often an outbox is polled without a kick (default 1s)
//	TEACH_SKIP_IDEMPOTENCY teaching switch: consume without idempotency records (default false)
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/internal/bus"
	"github.com/surge-mq/surge/services/internal/env"
	"github.com/surge-mq/surge/services/internal/httpx"
	"github.com/surge-mq/surge/services/internal/migrate"
	"github.com/surge-mq/surge/services/internal/pg"
	"github.com/surge-mq/surge/services/internal/pipeline"
)

// Service is what a service package hands the runner.
type Service interface {
	// Routes adds the service's HTTP routes.
	Routes(r chi.Router)
	// Start starts producers, consumers and relays.
	Start(ctx context.Context) error
	// Close stops them, letting in-flight work finish.
	Close() error
}

// Common holds the settings of the runner itself.
type Common struct {
	HTTPAddr      string
	DatabaseURL   string
	MaxConns      int
	ShutdownGrace time.Duration
}

// Spec describes one service binary; C is its own settings.
type Spec[C any] struct {
	// Name is the service's name, schema and migrations directory.
	Name string
	// DefaultAddr is HTTP_ADDR's default.
	DefaultAddr string
	// Env reads the service's own variables; nil if it has none.
	Env func(e *env.Reader) C
	// Build makes the service from the common settings (pool, broker,
	// logger, idempotency switch) and its own.
	Build func(set pipeline.Settings, own C) Service
}

// Main runs spec until SIGINT or SIGTERM and exits.
func Main[C any](spec Spec[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, spec, env.New(nil), os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Name, err)
		os.Exit(1)
	}
}

// Run runs spec until ctx ends.
func Run[C any](ctx context.Context, spec Spec[C], e *env.Reader, logOut io.Writer) error {
	c := Common{
		HTTPAddr:      e.String("HTTP_ADDR", spec.DefaultAddr),
		DatabaseURL:   e.Required("DATABASE_URL"),
		MaxConns:      e.Int("DB_MAX_CONNS", 16, 1, 1000),
		ShutdownGrace: e.Duration("SHUTDOWN_GRACE", 10*time.Second),
	}
	set := pipeline.Settings{
		NameServers:     e.List("NAMESRV_ADDR", "127.0.0.1:9876", ";"),
		SkipIdempotency: e.Bool("TEACH_SKIP_IDEMPOTENCY", false),
		RelayInterval:   e.Duration("OUTBOX_INTERVAL", 0),
	}
	format := e.OneOf("LOG_FORMAT", "text", "text", "json")
	level := e.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error")
	var own C
	if spec.Env != nil {
		own = spec.Env(e)
	}
	if err := e.Err(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := NewLogger(logOut, format, level).With("service", spec.Name)
	set.Logger = log
	if set.SkipIdempotency {
		log.Warn("teaching switch TEACH_SKIP_IDEMPOTENCY is on: redelivered events take effect again")
	}

	var pool *pgxpool.Pool
	err := retry(ctx, log, "database", func() (err error) {
		pool, err = pg.Open(ctx, c.DatabaseURL, int32(c.MaxConns))
		if errors.Is(err, pg.ErrBadURL) {
			return &permanent{err}
		}
		return err
	})
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	err = migrate.Up(ctx, db, spec.Name, log)
	db.Close()
	if err != nil {
		return err
	}
	set.Pool = pool
	admin, err := client.NewAdmin(client.WithNameServers(set.NameServers...), client.WithLogger(log))
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := retry(ctx, log, "broker", func() error { return bus.EnsureTopics(ctx, admin, bus.Topics...) }); err != nil {
		return err
	}
	svc := spec.Build(set, own)
	if err := svc.Start(ctx); err != nil {
		return err
	}
	r := httpx.NewRouter(log,
		httpx.Check{Name: "database", Check: pool.Ping},
		httpx.Check{Name: "broker", Check: bus.Ready(admin)})
	svc.Routes(r)
	serveErr := httpx.Serve(ctx, c.HTTPAddr, r, c.ShutdownGrace, log)
	log.Info("shutting down")
	return errors.Join(serveErr, svc.Close())
}

// retry calls f every 2s until it succeeds, fails permanently or ctx
// ends, so that a service may start before its database or broker.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	for {
		err := f()
		var perm *permanent
		switch {
		case err == nil:
			return nil
		case errors.As(err, &perm):
			return perm.err
		}
		log.Warn(what+" not ready; retrying in 2s", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the %s: %w", what, err)
		case <-time.After(2 * time.Second):
		}
	}
}

// permanent marks an error retry must not retry.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }

// NewLogger returns a slog logger writing format ("text" or "json") at
// level.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
