package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/surge-mq/surge/mq/broker"
)

// Options are a run's settings, from the command line.
type Options struct {
	// Mode is "producer" or "consumer".
	Mode string
	// Namesrv lists the NameServer addresses.
	Namesrv []string
	Topic   string
	// Group is the consumer group.
	Group string
	// Size is the body size in bytes.
	Size int
	// Concurrency is the number of senders.
	Concurrency int
	// Batch is the number of messages per send; above 1 sends batches.
	Batch int
	// SendMode is "sync", "async" or "oneway".
	SendMode string
	// Duration bounds the run.
	Duration time.Duration
	// Count ends the run after this many messages sent or consumed (0:
	// run for Duration).
	Count int64
	// Rate is the target messages/s over all senders (0: as fast as
	// possible).
	Rate int
	// PullBatch is how many messages a consumer asks for per pull.
	PullBatch int
	// JSONOut is a file to write the Summary to ("" = none).
	JSONOut string
}

// parse reads the command line of prog: a mode, then flags.
func parse(prog string, args []string, stderr io.Writer) (Options, error) {
	var o Options
	if len(args) == 0 || (args[0] != "producer" && args[0] != "consumer") {
		return o, fmt.Errorf("usage: %s producer|consumer [flags] (-h for flags)", prog)
	}
	o.Mode = args[0]
	var namesrv string
	fs := flag.NewFlagSet(prog+" "+o.Mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&namesrv, "n", os.Getenv("NAMESRV_ADDR"), "NameServer `addresses` (host:port, ';' between several)")
	fs.StringVar(&o.Topic, "t", "BenchmarkTest", "topic")
	fs.StringVar(&o.Group, "g", "benchmark_consumer", "consumer group")
	fs.IntVar(&o.Size, "s", 1024, "message size in bytes")
	fs.IntVar(&o.Concurrency, "c", 16, "concurrent senders")
	fs.IntVar(&o.Batch, "b", 1, "messages per batch")
	fs.StringVar(&o.SendMode, "m", "sync", "send mode: sync, async or oneway")
	fs.DurationVar(&o.Duration, "d", 30*time.Second, "how long to run")
	fs.Int64Var(&o.Count, "x", 0, "stop after this many messages sent or consumed (0: run for -d)")
	fs.IntVar(&o.Rate, "r", 0, "target messages/s over all senders (0: as fast as possible); latency is measured from the intended send time")
	fs.IntVar(&o.PullBatch, "pull", 32, "consumer: messages asked for per pull (1 to 1024)")
	fs.StringVar(&o.JSONOut, "json", "", "write a JSON summary to this `file`")
	if err := fs.Parse(args[1:]); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if namesrv == "" {
		return o, errors.New("no NameServer: pass -n host:port or set NAMESRV_ADDR")
	}
	o.Namesrv = broker.SplitNamesrvAddr(namesrv)
	if o.SendMode != "sync" && o.SendMode != "async" && o.SendMode != "oneway" {
		return o, fmt.Errorf("-m %q: want sync, async or oneway", o.SendMode)
	}
	if o.Concurrency < 1 || o.Size < 1 || o.Batch < 1 {
		return o, errors.New("-c, -s and -b must be positive")
	}
	if o.PullBatch < 1 || o.PullBatch > 1024 {
		return o, fmt.Errorf("-pull %d: want 1 to 1024 messages per pull", o.PullBatch)
	}
	if o.Duration <= 0 || o.Count < 0 || o.Rate < 0 {
		return o, errors.New("-d must be positive, -x and -r not negative")
	}
	return o, nil
}
