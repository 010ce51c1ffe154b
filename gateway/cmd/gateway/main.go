// Command gateway runs Surge's HTTP edge: the public API proxied to the
// services, and flash-sale admission into the SECKILL_REQUESTS topic.
// Configuration comes from the environment; `gateway -h` lists it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
