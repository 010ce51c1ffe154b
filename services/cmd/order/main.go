// Command order runs the order service (see package order and
// docs/services.md for its environment).
package main

import (
	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/env"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/order"
)

func main() {
	app.Main(app.Spec[order.Config]{
		Name:        "order",
		DefaultAddr: ":8081",
		Env: func(e *env.Reader) order.Config {
			return order.Config{
				CheckGrace:   e.Duration("TX_CHECK_GRACE", 0),
				SeckillDelay: e.Duration("SECKILL_CONSUME_DELAY", 0),
			}
		},
		Build: func(set pipeline.Settings, cfg order.Config) app.Service {
			cfg.Settings = set
			return order.New(cfg)
		},
	})
}
