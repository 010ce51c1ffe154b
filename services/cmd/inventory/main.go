// Command inventory runs the inventory service (see package inventory
// and docs/services.md for its environment).
package main

import (
	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/env"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/inventory"
)

func main() {
	app.Main(app.Spec[inventory.Config]{
		Name:        "inventory",
		DefaultAddr: ":8082",
		Env: func(e *env.Reader) inventory.Config {
			return inventory.Config{
				CheckThenUpdate: e.Bool("TEACH_CHECK_THEN_UPDATE", false),
				RaceWindow:      e.Duration("TEACH_RACE_WINDOW", 0),
			}
		},
		Build: func(set pipeline.Settings, cfg inventory.Config) app.Service {
			cfg.Settings = set
			return inventory.New(cfg)
		},
	})
}
