// Command mqbench-official is mqbench driving Apache RocketMQ's official Go
// client (rocketmq-client-go v2.1.2) instead of Surge's, with the same
// flags, pacing and report, so that the two clients can be compared on
// one broker.
//
//	mqbench-official producer -n 127.0.0.1:9876 -t BenchTopic -s 1024 -c 64 -d 30s
//	mqbench-official consumer -n 127.0.0.1:9876 -t BenchTopic -d 30s
//
// The official client logs at error level unless ROCKETMQ_GO_LOG_LEVEL
// says otherwise (debug, info, warn).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/surge-mq/surge/mq/bench"
)

func main() {
	quietClient()
	// Without a handler, a panic in one of the client's goroutines ends
	// the process: v2.1.2 panics after any failed asynchronous send.
	primitive.PanicHandler = func(v any) {
		fmt.Fprintln(os.Stderr, "mqbench-official: the official client panicked in a goroutine of its own:", v)
	}
	bench.Main("mqbench-official", officialDriver{})
}

// run is main's benchmark with its arguments and output given.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return bench.Run(ctx, "mqbench-official", officialDriver{}, args, stdout, stderr)
}

// quietClient makes the official client log errors only, unless
// ROCKETMQ_GO_LOG_LEVEL chose a level.
func quietClient() {
	if os.Getenv("ROCKETMQ_GO_LOG_LEVEL") == "" {
		rlog.SetLogLevel("error")
	}
}
