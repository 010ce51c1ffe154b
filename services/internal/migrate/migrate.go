// Package migrate applies Surge's database schema: the roles and schemas
// of migrations/bootstrap.sql, then each service's goose migrations in its
// own schema as its own role.
//
// A service migrates its schema at startup (Up, on its own connection);
// `make migrate` and the tests run All with a superuser's URL.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/surge-mq/surge/migrations"
)

// Services are the services with a schema, in the order All migrates them.
var Services = []string{"order", "inventory", "points", "coupon"}

// Role returns the database role of a service; its schema has the
// service's name.
func Role(service string) string { return service + "_svc" }

// Bootstrap runs bootstrap.sql (roles and schemas) on db as a superuser.
func Bootstrap(ctx context.Context, db *sql.DB) error {
	script, err := fs.ReadFile(migrations.FS, migrations.Bootstrap)
	if err != nil {
		return fmt.Errorf("migrate: read bootstrap: %w", err)
	}
	if _, err := db.ExecContext(ctx, string(script)); err != nil {
		return fmt.Errorf("migrate: bootstrap roles and schemas: %w", err)
	}
	return nil
}

// Up applies a service's pending migrations on db, whose connections must
// act as the service's role with the service's schema first in search_path
// (a service's own DATABASE_URL does, through the role's settings). goose
// keeps its version table in that schema; a session advisory lock makes
// concurrent starts wait for each other.
func Up(ctx context.Context, db *sql.DB, service string, log *slog.Logger) error {
	dir, err := fs.Sub(migrations.FS, service)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", service, err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate %s: %w", service, err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir, goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate %s: %w", service, err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", service, err)
	}
	if log != nil {
		for _, r := range res {
			log.Info("migration applied", "service", service, "version", r.Source.Version, "file", r.Source.Path)
		}
	}
	return nil
}

// OpenAs opens database/sql connections from a superuser's URL that act as
// a service's role in its schema (SET ROLE, search_path), so that what
// migrations create belongs to the service.
func OpenAs(adminURL, service string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("migrate: parse admin URL: %w", err)
	}
	setup := fmt.Sprintf("SET ROLE %s; SET search_path = %s",
		pgx.Identifier{Role(service)}.Sanitize(), pgx.Identifier{service}.Sanitize())
	return stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, setup)
		return err
	})), nil
}

// All bootstraps roles and schemas and applies every service's migrations,
// from a superuser's URL.
func All(ctx context.Context, adminURL string, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return fmt.Errorf("migrate: parse admin URL: %w", err)
	}
	admin := stdlib.OpenDB(*cfg)
	defer admin.Close()
	if err := Bootstrap(ctx, admin); err != nil {
		return err
	}
	for _, svc := range Services {
		db, err := OpenAs(adminURL, svc)
		if err != nil {
			return err
		}
		err = Up(ctx, db, svc, log)
		db.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
