// Command coupon runs the coupon service (see package coupon and
// docs/services.md for its environment).
package main

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/coupon"
	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/env"
)

func main() {
	app.Main(app.Spec[coupon.Config]{
		Name:        "coupon",
		DefaultAddr: ":8084",
		Env: func(e *env.Reader) coupon.Config {
			return coupon.Config{SkipIdempotency: e.Bool("TEACH_SKIP_IDEMPOTENCY", false)}
		},
		Build: func(c app.Common, cfg coupon.Config, pool *pgxpool.Pool) (app.Service, error) {
			cfg.Pool, cfg.NameServers, cfg.Logger = pool, c.NameServers, c.Logger
			return coupon.New(cfg), nil
		},
	})
}
