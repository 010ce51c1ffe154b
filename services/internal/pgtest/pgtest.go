// Package pgtest gives each test its own PostgreSQL database, with the
// roles, schemas and every service's migrations already applied, so tests
// can run in parallel. Every test that needs PostgreSQL goes through it.
//
// The server is TEST_DATABASE_URL (a superuser's URL; `make test` sets it
// with scripts/with-testdb.sh) or, when that is unset, a container started
// with testcontainers-go from SURGE_POSTGRES_IMAGE (default
// postgres:16-alpine; testcontainers' own variables apply, e.g.
// TESTCONTAINERS_RYUK_DISABLED, TESTCONTAINERS_HOST_OVERRIDE). If neither
// works the test fails and says how to fix it.
//
// The first test of a process migrates a template database (named after a
// hash of the migrations, so a schema change makes a new one); every test
// then gets CREATE DATABASE ... TEMPLATE, dropped when it ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/surge-mq/surge/migrations"
	"github.com/surge-mq/surge/services/internal/migrate"
)

// DB is one test's database.
type DB struct {
	// Name is the database's name.
	Name  string
	admin *url.URL
}

// server is the process's PostgreSQL server and template, set up once.
var server struct {
	once     sync.Once
	err      error
	admin    *url.URL
	pool     *pgxpool.Pool // superuser connections to the server's own database
	template string
}

const howToFix = `pgtest: no PostgreSQL for the tests. Either
  - run them through the Makefile or the script that starts a throwaway server:
      make test    or    scripts/with-testdb.sh go test ./...
  - or point them at a server you run, as a superuser:
      TEST_DATABASE_URL=postgres://postgres:secret@127.0.0.1:5432/postgres?sslmode=disable
  - or make Docker able to run SURGE_POSTGRES_IMAGE (default postgres:16-alpine)`

// New returns a fresh, migrated database that is dropped when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	server.once.Do(func() { server.err = setUp() })
	if server.err != nil {
		t.Fatalf("%v\n%s", server.err, howToFix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "surge_t_" + randomHex(8)
	if _, err := server.pool.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{server.template}.Sanitize())); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := server.pool.Exec(ctx, fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return &DB{Name: name, admin: server.admin}
}

// AdminURL is the superuser's URL of the database.
func (d *DB) AdminURL() string { return withDatabase(d.admin, d.Name, "").String() }

// URL is the URL a service uses: its own role (password = role name, as
// bootstrap.sql sets for the demo).
func (d *DB) URL(service string) string {
	return withDatabase(d.admin, d.Name, migrate.Role(service)).String()
}

// Pool opens a pool of up to 16 connections as a service's role (as the
// binaries do), closed when t ends.
func (d *DB) Pool(t testing.TB, service string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(d.URL(service))
	if err != nil {
		t.Fatalf("pgtest: pool for %s: %v", service, err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: pool for %s: %v", service, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func withDatabase(admin *url.URL, db, role string) *url.URL {
	u := *admin
	u.Path = "/" + db
	if role != "" {
		u.User = url.UserPassword(role, role)
	}
	return &u
}

func setUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		var err error
		if raw, err = startContainer(ctx); err != nil {
			return err
		}
	}
	admin, err := url.Parse(raw)
	if err != nil || (admin.Scheme != "postgres" && admin.Scheme != "postgresql") {
		return fmt.Errorf("pgtest: TEST_DATABASE_URL must be a postgres:// URL, got %q", raw)
	}
	pool, err := pgxpool.New(ctx, raw)
	if err != nil {
		return fmt.Errorf("pgtest: connect to %s: %w", admin.Redacted(), err)
	}
	// A server that is still starting refuses connections for a while.
	for err = pool.Ping(ctx); err != nil; err = pool.Ping(ctx) {
		select {
		case <-ctx.Done():
			pool.Close()
			return fmt.Errorf("pgtest: connect to %s: %w", admin.Redacted(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	server.admin, server.pool = admin, pool
	server.template, err = ensureTemplate(ctx, pool, admin)
	return err
}

// ensureTemplate creates the migrated template unless another process
// already did; an advisory lock on the server's own database keeps two
// processes from building it (or bootstrapping roles) at once.
func ensureTemplate(ctx context.Context, pool *pgxpool.Pool, admin *url.URL) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Release()
	const lockKey = 0x5e_c0_de_01
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return "", fmt.Errorf("pgtest: lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if exists {
		return name, nil
	}
	wip := name + "_wip"
	for _, q := range []string{"DROP DATABASE IF EXISTS %s WITH (FORCE)", "CREATE DATABASE %s"} {
		if _, err := conn.Exec(ctx, fmt.Sprintf(q, pgx.Identifier{wip}.Sanitize())); err != nil {
			return "", fmt.Errorf("pgtest: template: %w", err)
		}
	}
	if err := migrate.All(ctx, withDatabase(admin, wip, "").String(), nil); err != nil {
		return "", fmt.Errorf("pgtest: migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
		pgx.Identifier{wip}.Sanitize(), pgx.Identifier{name}.Sanitize())); err != nil {
		return "", fmt.Errorf("pgtest: publish template: %w", err)
	}
	return name, nil
}

// templateName names the template after the migrations' content.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("pgtest: hash migrations: %w", err)
	}
	return "surge_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// startContainer runs PostgreSQL in Docker for this process's tests; the
// testcontainers reaper removes it when the process ends.
func startContainer(ctx context.Context) (string, error) {
	image := os.Getenv("SURGE_POSTGRES_IMAGE")
	if image == "" {
		image = "postgres:16-alpine"
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        image,
			ExposedPorts: []string{"5432/tcp"},
			Env:          map[string]string{"POSTGRES_PASSWORD": "postgres"},
			Cmd:          []string{"postgres", "-c", "fsync=off", "-c", "max_connections=300"},
			// The port opens before initialisation ends (the official image
			// restarts the server once); setUp retries until it answers.
			WaitingFor: wait.ForListeningPort("5432/tcp").WithStartupTimeout(2 * time.Minute),
		},
		Started: true,
	})
	if err != nil {
		return "", fmt.Errorf("pgtest: TEST_DATABASE_URL is unset and PostgreSQL container %s did not start: %w", image, err)
	}
	host, err := c.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("pgtest: container host: %w", err)
	}
	port, err := c.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return "", fmt.Errorf("pgtest: container port: %w", err)
	}
	return fmt.Sprintf("postgres://postgres:postgres@%s:%s/postgres?sslmode=disable", host, port.Port()), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
