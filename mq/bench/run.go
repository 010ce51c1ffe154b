package bench

import (
	"context"
	"encoding/json"
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

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surge-mq/surge/mq/client"
)

// Summary is a run's final figures, also written as JSON with -json.
type Summary struct {
	Client     string  `json:"client"`
	Mode       string  `json:"mode"`
	Messages   int64   `json:"messages"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	TPS        float64 `json:"tps"`
	AvgMicros  float64 `json:"avgMicros"`
	P50Micros  int64   `json:"p50Micros"`
	P99Micros  int64   `json:"p99Micros"`
	P999Micros int64   `json:"p999Micros"`
	MaxMicros  int64   `json:"maxMicros"`
	FlushMode  string  `json:"brokerFlushDiskType"`
	// FirstError is the first failure, when there were any.
	FirstError string `json:"firstError,omitempty"`
}

// recorder collects latencies (µs) from many goroutines.
type recorder struct {
	mu   sync.Mutex
	h    *hdrhistogram.Histogram // guarded by mu
	n    atomic.Int64
	errs atomic.Int64
	// first is the first error given to failed.
	first atomic.Pointer[error]
}

func newRecorder() *recorder { return &recorder{h: hdrhistogram.New(1, 60_000_000, 3)} }

// record counts n messages that took d, and returns the count so far.
func (r *recorder) record(d time.Duration, n int) int64 {
	r.mu.Lock()
	r.h.RecordValues(max(d.Microseconds(), 1), int64(n))
	r.mu.Unlock()
	return r.n.Add(int64(n))
}

// failed counts a failed send.
func (r *recorder) failed(err error) {
	r.errs.Add(1)
	r.first.CompareAndSwap(nil, &err)
}

func (r *recorder) summary(elapsed time.Duration) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n.Load()
	s := Summary{Messages: n, Errors: r.errs.Load(), Seconds: elapsed.Seconds(), TPS: float64(n) / elapsed.Seconds(),
		AvgMicros: r.h.Mean(), P50Micros: r.h.ValueAtQuantile(50), P99Micros: r.h.ValueAtQuantile(99),
		P999Micros: r.h.ValueAtQuantile(99.9), MaxMicros: r.h.Max()}
	if err := r.first.Load(); err != nil {
		s.FirstError = (*err).Error()
	}
	return s
}

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
	rec := newRecorder()
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
			n := rec.n.Load()
			fmt.Fprintf(stdout, "TPS: %d  total: %d  errors: %d\n", n-last, n, rec.errs.Load())
			last = n
		case err := <-done:
			if end.IsZero() {
				end = time.Now()
			}
			s := rec.summary(end.Sub(start))
			s.Client, s.Mode, s.FlushMode = d.Name(), o.Mode, flush
			fmt.Fprintf(stdout, "Summary: %d msgs in %.1fs, TPS %.0f, errors %d, latency avg %.0fµs p50 %dµs p99 %dµs p999 %dµs max %dµs\n",
				s.Messages, s.Seconds, s.TPS, s.Errors, s.AvgMicros, s.P50Micros, s.P99Micros, s.P999Micros, s.MaxMicros)
			if s.FirstError != "" {
				fmt.Fprintf(stdout, "First error: %s\n", s.FirstError)
			}
			if o.JSONOut != "" {
				b, _ := json.MarshalIndent(s, "", "  ") // a struct of numbers and strings always encodes
				if werr := os.WriteFile(o.JSONOut, b, 0o644); werr != nil {
					return errors.Join(err, fmt.Errorf("write the summary: %w", werr))
				}
			}
			return err
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
func produce(ctx context.Context, d Driver, o Options, rec *recorder) error {
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
						rec.failed(err)
					}
					continue
				}
				rec.record(time.Since(intended), o.Batch)
			}
		})
	}
	wg.Wait()
	return p.Close()
}

// consume records each message's time from store to receipt until ctx
// ends or o.Count messages arrived (then it calls stop).
func consume(ctx context.Context, stop context.CancelFunc, d Driver, o Options, rec *recorder) error {
	return d.Consume(ctx, o, func(storeTimestamp int64) {
		if n := rec.record(time.Since(time.UnixMilli(storeTimestamp)), 1); o.Count > 0 && n >= o.Count {
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
