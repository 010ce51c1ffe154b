package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
)

type options struct {
	mode        string
	namesrv     string
	topic       string
	group       string
	size        int
	concurrency int
	batch       int
	pullBatch   int
	sendMode    string
	duration    time.Duration
	count       int64
	rate        int
	jsonOut     string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	if len(args) == 0 || (args[0] != "producer" && args[0] != "consumer") {
		return o, errors.New("usage: mqbench producer|consumer [flags] (-h for flags)")
	}
	o.mode = args[0]
	fs := flag.NewFlagSet("mqbench "+o.mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.namesrv, "n", os.Getenv("NAMESRV_ADDR"), "NameServer `addresses`")
	fs.StringVar(&o.topic, "t", "BenchmarkTest", "topic")
	fs.StringVar(&o.group, "g", "benchmark_consumer", "consumer group")
	fs.IntVar(&o.size, "s", 1024, "message size in bytes")
	fs.IntVar(&o.concurrency, "c", 16, "concurrent senders")
	fs.IntVar(&o.batch, "b", 1, "messages per batch")
	fs.IntVar(&o.pullBatch, "pull", 32, "consumer: messages asked for per pull (1 to 1024)")
	fs.StringVar(&o.sendMode, "m", "sync", "send mode: sync, async or oneway")
	fs.DurationVar(&o.duration, "d", 30*time.Second, "how long to run")
	fs.Int64Var(&o.count, "x", 0, "stop after this many messages (0: run for -d)")
	fs.IntVar(&o.rate, "r", 0, "target messages/s over all senders (0: as fast as possible); latency is measured from the intended send time")
	fs.StringVar(&o.jsonOut, "json", "", "write a JSON summary to this `file`")
	if err := fs.Parse(args[1:]); err != nil {
		return o, err
	}
	if o.namesrv == "" {
		return o, errors.New("no NameServer: pass -n host:port or set NAMESRV_ADDR")
	}
	if o.sendMode != "sync" && o.sendMode != "async" && o.sendMode != "oneway" {
		return o, fmt.Errorf("-m %q: want sync, async or oneway", o.sendMode)
	}
	if o.concurrency < 1 || o.size < 1 || o.batch < 1 {
		return o, errors.New("-c, -s and -b must be positive")
	}
	if o.pullBatch < 1 || o.pullBatch > 1024 {
		return o, fmt.Errorf("-pull %d: want 1 to 1024 messages per pull", o.pullBatch)
	}
	return o, nil
}

// Summary is the final figures, also written as JSON with -json.
type Summary struct {
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
}

// recorder collects latencies (µs) from many goroutines.
type recorder struct {
	mu   sync.Mutex
	h    *hdrhistogram.Histogram
	n    atomic.Int64
	errs atomic.Int64
}

func newRecorder() *recorder { return &recorder{h: hdrhistogram.New(1, 60_000_000, 3)} }

func (r *recorder) record(d time.Duration, n int) {
	r.mu.Lock()
	r.h.RecordValues(max(d.Microseconds(), 1), int64(n))
	r.mu.Unlock()
	r.n.Add(int64(n))
}

func (r *recorder) summary(mode string, elapsed time.Duration, flush string) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n.Load()
	return Summary{Mode: mode, Messages: n, Errors: r.errs.Load(), Seconds: elapsed.Seconds(), TPS: float64(n) / elapsed.Seconds(),
		AvgMicros: r.h.Mean(), P50Micros: r.h.ValueAtQuantile(50), P99Micros: r.h.ValueAtQuantile(99),
		P999Micros: r.h.ValueAtQuantile(99.9), MaxMicros: r.h.Max(), FlushMode: flush}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	flush := brokerFlushMode(ctx, o)
	fmt.Fprintf(stdout, "mqbench %s: topic=%s size=%d concurrency=%d batch=%d mode=%s broker flushDiskType=%s\n", o.mode, o.topic, o.size, o.concurrency, o.batch, o.sendMode, flush)
	rec := newRecorder()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		if o.mode == "producer" {
			done <- produce(ctx, o, rec)
		} else {
			done <- consume(ctx, o, rec)
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := int64(0)
	for {
		select {
		case err := <-done:
			s := rec.summary(o.mode, time.Since(start), flush)
			fmt.Fprintf(stdout, "Summary: %d msgs in %.1fs, TPS %.0f, errors %d, latency avg %.0fµs p50 %dµs p99 %dµs p999 %dµs max %dµs\n",
				s.Messages, s.Seconds, s.TPS, s.Errors, s.AvgMicros, s.P50Micros, s.P99Micros, s.P999Micros, s.MaxMicros)
			if o.jsonOut != "" {
				b, _ := json.MarshalIndent(s, "", "  ")
				if werr := os.WriteFile(o.jsonOut, b, 0o644); werr != nil {
					return werr
				}
			}
			return err
		case <-tick.C:
			n := rec.n.Load()
			fmt.Fprintf(stdout, "TPS: %d  total: %d  errors: %d\n", n-last, n, rec.errs.Load())
			last = n
		}
	}
}

// brokerFlushMode asks a broker of the cluster how it flushes.
func brokerFlushMode(ctx context.Context, o options) string {
	a, err := client.NewAdmin(client.WithNameServers(broker.SplitNamesrvAddr(o.namesrv)...))
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

func produce(ctx context.Context, o options, rec *recorder) error {
	p, err := client.NewProducer(client.WithNameServers(broker.SplitNamesrvAddr(o.namesrv)...), client.WithGroup("benchmark_producer"), client.WithCompressOver(-1))
	if err != nil {
		return err
	}
	defer p.Close()
	body := make([]byte, o.size)
	var sent atomic.Int64
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.concurrency*o.batch) / float64(o.rate))
	}
	var wg sync.WaitGroup
	for w := range o.concurrency {
		wg.Go(func() {
			next := time.Now().Add(time.Duration(w) * interval / time.Duration(o.concurrency))
			for ctx.Err() == nil && (o.count == 0 || sent.Add(int64(o.batch)) <= o.count) {
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
				case o.batch > 1:
					msgs := make([]*client.Message, o.batch)
					for i := range msgs {
						msgs[i] = &client.Message{Topic: o.topic, Body: body}
					}
					_, err = p.SendBatch(ctx, msgs)
				case o.sendMode == "oneway":
					err = p.SendOneway(ctx, &client.Message{Topic: o.topic, Body: body})
				case o.sendMode == "async":
					errc := make(chan error, 1)
					if err = p.SendAsync(ctx, &client.Message{Topic: o.topic, Body: body}, func(_ *client.SendResult, e error) { errc <- e }); err == nil {
						err = <-errc
					}
				default:
					_, err = p.Send(ctx, &client.Message{Topic: o.topic, Body: body})
				}
				if err != nil {
					if ctx.Err() == nil {
						rec.errs.Add(1)
					}
					continue
				}
				rec.record(time.Since(intended), o.batch)
			}
		})
	}
	wg.Wait()
	return nil
}

func consume(ctx context.Context, o options, rec *recorder) error {
	c, err := client.NewPushConsumer(o.group, client.WithNameServers(broker.SplitNamesrvAddr(o.namesrv)...), client.WithConsumeFromFirst(), client.WithPullBatch(o.pullBatch))
	if err != nil {
		return err
	}
	err = c.Subscribe(o.topic, "*", func(_ context.Context, msgs []*client.MessageExt) error {
		now := time.Now()
		for _, m := range msgs {
			rec.record(now.Sub(time.UnixMilli(m.StoreTimestamp)), 1) // end to end: store time to receive time
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return c.Close()
}
