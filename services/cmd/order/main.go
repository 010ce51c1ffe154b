// Command order runs the order service (see package order and
// docs/services.md for its environment).
package main

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/env"
	"github.com/surge-mq/surge/services/order"
)

func main() {
	app.Main(app.Spec[order.Config]{
		Name:        "order",
		DefaultAddr: ":8081",
		Env: func(e *env.Reader) order.Config {
			return order.Config{
				SkipIdempotency: e.Bool("TEACH_SKIP_IDEMPOTENCY", false),
				RelayInterval:   e.Duration("OUTBOX_INTERVAL", 0),
				CheckGrace:      e.Duration("TX_CHECK_GRACE", 0),
			}
		},
		Build: func(c app.Common, cfg order.Config, pool *pgxpool.Pool) (app.Service, error) {
			cfg.Pool, cfg.NameServers, cfg.Logger = pool, c.NameServers, c.Logger
			return order.New(cfg), nil
		},
	})
}
