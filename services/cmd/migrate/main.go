// Command migrate creates the services' roles and schemas
// (migrations/bootstrap.sql) and applies every service's migrations, each
// as its own role. It needs a superuser's URL:
//
//	ADMIN_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/surge?sslmode=disable migrate
//
// (or the URL as the only argument). The database must exist.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/migrate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "migrate: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	url := os.Getenv("ADMIN_DATABASE_URL")
	switch {
	case len(args) == 1:
		url = args[0]
	case len(args) > 1:
		return fmt.Errorf("usage: migrate [ADMIN_DATABASE_URL]")
	}
	if url == "" {
		return fmt.Errorf("set ADMIN_DATABASE_URL (a superuser's URL of database surge) or pass it as the argument")
	}
	log := app.NewLogger(os.Stderr, os.Getenv("LOG_FORMAT"), os.Getenv("LOG_LEVEL"))
	if err := migrate.All(ctx, url, log); err != nil {
		return err
	}
	log.Info("roles, schemas and migrations are up to date", "services", migrate.Services)
	return nil
}
