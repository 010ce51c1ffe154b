// Command coupon runs the coupon service (see package coupon and
// docs/services.md for its environment).
package main

import (
	"github.com/surge-mq/surge/services/coupon"
	"github.com/surge-mq/surge/services/internal/app"
	"github.com/surge-mq/surge/services/internal/pipeline"
)

func main() {
	app.Main(app.Spec[struct{}]{Name: "coupon", DefaultAddr: ":8084",
		Build: func(set pipeline.Settings, _ struct{}) app.Service { return coupon.New(coupon.Config{Settings: set}) }})
}
