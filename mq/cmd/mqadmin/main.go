// Command mqadmin administers Surge (and Apache RocketMQ 4.x) clusters with
// RocketMQ's command names:
//
//	mqadmin clusterList -n 127.0.0.1:9876
//	mqadmin updateTopic -n 127.0.0.1:9876 -c DefaultCluster -t TopicTest
//	mqadmin consumerProgress -g group -t TopicTest --json
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqadmin:", err)
		os.Exit(1)
	}
}
