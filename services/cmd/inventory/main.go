// Command inventory runs the inventory service (see package inventory
// and docs/services.md for its environment).
package main

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/env"
	"github.com/surge-mq/surge/services/inventory"
)

func main() {
	app.Main(app.Spec[inventory.Config]{
		Name:        "inventory",
		DefaultAddr: ":8082",
		Env: func(e *env.Reader) inventory.Config {
			return inventory.Config{
				SkipIdempotency: e.Bool("TEACH_SKIP_IDEMPOTENCY", false),
				CheckThenUpdate: e.Bool("TEACH_CHECK_THEN_UPDATE", false),
				RaceWindow:      e.Duration("TEACH_RACE_WINDOW", 0),
				RelayInterval:   e.Duration("OUTBOX_INTERVAL", 0),
			}
		},
		Build: func(c app.Common, cfg inventory.Config, pool *pgxpool.Pool) (app.Service, error) {
			cfg.Pool, cfg.NameServers, cfg.Logger = pool, c.NameServers, c.Logger
			return inventory.New(cfg), nil
		},
	})
}
