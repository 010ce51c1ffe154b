// Command points runs the points service (see package points and
// docs/services.md for its environment).
package main

import (
	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/pipeline"
	"github.com/surge-mq/surge/services/points"
)

func main() {
	app.Main(app.Spec[struct{}]{Name: "points", DefaultAddr: ":8083",
		Build: func(set pipeline.Settings, _ struct{}) app.Service { return points.New(points.Config{Settings: set}) }})
}
