// Command points runs the points service (see package points and
// docs/services.md for its environment).
package main

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/env"
	"github.com/surge-mq/surge/services/points"
)

func main() {
	app.Main(app.Spec[points.Config]{
		Name:        "points",
		DefaultAddr: ":8083",
		Env: func(e *env.Reader) points.Config {
			return points.Config{SkipIdempotency: e.Bool("TEACH_SKIP_IDEMPOTENCY", false)}
		},
		Build: func(c app.Common, cfg points.Config, pool *pgxpool.Pool) (app.Service, error) {
			cfg.Pool, cfg.NameServers, cfg.Logger = pool, c.NameServers, c.Logger
			return points.New(cfg), nil
		},
	})
}
