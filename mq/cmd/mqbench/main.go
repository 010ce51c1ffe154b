// Command mqbench measures a broker with Surge's client like RocketMQ's
// benchmark/producer.sh and consumer.sh: send or consume at full speed (or
// a fixed rate) and report throughput and latency percentiles from an HDR
// histogram. The compat module's mqbench-official runs the same benchmark
// with Apache RocketMQ's official Go client.
//
//	mqbench producer -n 127.0.0.1:9876 -t BenchTopic -s 1024 -c 64 -d 30s
//	mqbench consumer -n 127.0.0.1:9876 -t BenchTopic -d 30s
package main

import (
	"context"
	"io"

	"github.com/surge-mq/surge/mq/bench"
)

func main() { bench.Main("mqbench", bench.SurgeDriver{}) }

// run is main's benchmark with its arguments and output given.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return bench.Run(ctx, "mqbench", bench.SurgeDriver{}, args, stdout, stderr)
}
