package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/surge-mq/surge/mq/client"
)

// Run runs the benchmark that args ask for (a mode, then flags; see
// parse) with the client d, prints a line per second and the summary to
// stdout, and flag errors and help to stderr. prog names the command in
// messages. -h is not an error.
func Run(ctx context.Context, prog string, d Driver, args []string, stdout, stderr io.Writer) error {
	o, err := parse(prog, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	flush := brokerFlushMode(ctx, o.Namesrv)
	fmt.Fprintf(stdout, "%s %s: client=%s topic=%s size=%d concurrency=%d batch=%d mode=%s broker flushDiskType=%s\n",
		prog, o.Mode, d.Name(), o.Topic, o.Size, o.Concurrency, o.Batch, o.SendMode, flush)
	rec := NewRecorder()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		if o.Mode == "producer" {
			done <- produce(ctx, d, o, rec)
		} else {
			done <- consume(ctx, cancel, d, o, rec)
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	stopped := ctx.Done()
	var end time.Time // when the run stopped: shutting the client down is not part of it
	last := int64(0)
	for {
		select {
		case <-stopped:
			end, stopped = time.Now(), nil
		case <-tick.C:
			n := rec.Count()
			fmt.Fprintf(stdout, "TPS: %d  total: %d  errors: %d\n", n-last, n, rec.Errors())
			last = n
		case err := <-done:
			if end.IsZero() {
				end = time.Now()
			}
			s := rec.Summary(end.Sub(start))
			s.Client, s.Mode, s.FlushMode = d.Name(), o.Mode, flush
			return errors.Join(err, s.Report(stdout, o.JSONOut))
		}
	}
}

// brokerFlushMode asks a broker of the cluster how it flushes, with
// Surge's admin client whichever client is measured.
func brokerFlushMode(ctx context.Context, namesrv []string) string {
	a, err := client.NewAdmin(client.WithNameServers(namesrv...))
	if err != nil {
		return "unknown"
	}
	defer a.Close()
	ci, err := a.ClusterInfo(ctx)
	if err != nil {
		return "unknown"
	}
	for _, bd := range ci.BrokerAddrTable {
		if kv, err := a.BrokerRuntime(ctx, bd.MasterAddr()); err == nil && kv["flushDiskType"] != "" {
			return kv["flushDiskType"]
		}
	}
	return "unknown"
}

// produce sends from o.Concurrency goroutines until ctx ends or o.Count
// messages went out.
func produce(ctx context.Context, d Driver, o Options, rec *Recorder) error {
	p, err := d.NewProducer(ctx, o)
	if err != nil {
		return fmt.Errorf("start the producer: %w", err)
	}
	body := make([]byte, o.Size)
	var sent atomic.Int64
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.Concurrency*o.Batch) / float64(o.Rate))
	}
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		wg.Go(func() {
			next := time.Now().Add(time.Duration(w) * interval / time.Duration(o.Concurrency))
			for ctx.Err() == nil && (o.Count == 0 || sent.Add(int64(o.Batch)) <= o.Count) {
				intended := time.Now()
				if interval > 0 { // open model: latency from the intended time
					intended = next
					next = next.Add(interval)
					if d := time.Until(intended); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				var err error
				switch {
				case o.Batch > 1:
					err = p.SendBatch(ctx, body, o.Batch)
				case o.SendMode == "oneway":
					err = p.SendOneway(ctx, body)
				case o.SendMode == "async":
					err = p.SendAsync(ctx, body)
				default:
					err = p.Send(ctx, body)
				}
				if err != nil {
					if ctx.Err() == nil {
						rec.Failed(err)
					}
					continue
				}
				rec.Record(time.Since(intended), o.Batch)
			}
		})
	}
	wg.Wait()
	return p.Close()
}

// consume records each message's time from store to receipt until ctx
// ends or o.Count messages arrived (then it calls stop).
func consume(ctx context.Context, stop context.CancelFunc, d Driver, o Options, rec *Recorder) error {
	return d.Consume(ctx, o, func(storeTimestamp int64) {
		if n := rec.Record(time.Since(time.UnixMilli(storeTimestamp)), 1); o.Count > 0 && n >= o.Count {
			stop()
		}
	})
}

// Main is the body of a benchmark command's main: it runs the benchmark
// of the command line with d until it ends or an interrupt, and exits
// with 1 after printing an error.
func Main(prog string, d Driver) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, prog, d, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}
