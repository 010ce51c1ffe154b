// Command mqbench measures a broker like RocketMQ's benchmark/producer.sh
// and consumer.sh: send or consume at full speed (or a fixed rate) and
// report throughput and latency percentiles from an HDR histogram.
//
//	mqbench producer -n 127.0.0.1:9876 -t BenchTopic -s 1024 -c 64 -d 30s
//	mqbench consumer -n 127.0.0.1:9876 -t BenchTopic -d 30s
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
		fmt.Fprintln(os.Stderr, "mqbench:", err)
		os.Exit(1)
	}
}
