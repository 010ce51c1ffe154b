// Command mqbroker runs a Surge broker: RocketMQ's broker, protocol and
// config keys, in one small Go process.
//
//	mqbroker -n 127.0.0.1:9876 -c broker.conf
//	mqbroker --dev            # NameServer + broker in one process, temp store
//	mqbroker --check -c broker.conf
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqbroker:", err)
		os.Exit(1)
	}
}
