// Command natsbench measures NATS JetStream the way mqbench measures a
// Surge broker, so the two can be compared on one machine: the same
// message size and sender counts, latency of every send from an HDR
// histogram, the same JSON summary.
//
//	natsbench pub -s nats://127.0.0.1:4222 -c 64 -d 10s -json pub.json
//	natsbench pub -s nats://127.0.0.1:4222 -c 16 -m async -w 32 -d 10s
//	natsbench consume -s nats://127.0.0.1:4222 -x 100000 -json sub.json
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsbench:", err)
		os.Exit(1)
	}
}
