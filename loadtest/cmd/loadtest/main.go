// Command loadtest drives the gateway with a flash-sale spike, follows
// every admitted request to its outcome, reconciles orders against stock
// and writes a report (HTML with charts, JSON, CSV, PNG).
//
//	loadtest                                  # the default spike against 127.0.0.1:8080
//	loadtest -scenario broker-restart -during-spike 'systemctl restart mqbroker'
//	loadtest -scenario slow-consumer          # order service run with SECKILL_CONSUME_DELAY
//
// Exit status: 0 when every reconciliation check holds, 1 when one fails,
// 2 when the run could not be made.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		if errors.Is(err, errVerdictFailed) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}
