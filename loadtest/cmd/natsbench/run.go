package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/surge-mq/surge/mq/bench"
)

type options struct {
	mode        string
	url         string
	stream      string
	subject     string
	consumer    string
	size        int
	concurrency int
	sendMode    string
	window      int
	batch       int
	duration    time.Duration
	count       int64
	flush       string
	jsonOut     string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	if len(args) == 0 || (args[0] != "pub" && args[0] != "consume") {
		return o, errors.New("usage: natsbench pub|consume [flags] (-h for flags)")
	}
	o.mode = args[0]
	fs := flag.NewFlagSet("natsbench "+o.mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "s", nats.DefaultURL, "NATS server `URL`")
	fs.StringVar(&o.stream, "stream", "BENCH", "JetStream stream (file storage, created if missing)")
	fs.StringVar(&o.subject, "subject", "bench.msgs", "subject")
	fs.StringVar(&o.consumer, "g", "bench_consumer", "durable consumer name (consume)")
	fs.IntVar(&o.size, "size", 1024, "message size in bytes")
	fs.IntVar(&o.concurrency, "c", 16, "concurrent publishers, each on its own connection")
	fs.StringVar(&o.sendMode, "m", "sync", "publish mode: sync (wait for each ack) or async (up to -w acks outstanding per publisher)")
	fs.IntVar(&o.window, "w", 32, "async: acks outstanding per publisher")
	fs.IntVar(&o.batch, "b", 256, "consume: messages per fetch")
	fs.DurationVar(&o.duration, "d", 30*time.Second, "how long to run")
	fs.Int64Var(&o.count, "x", 0, "stop after this many messages (0: run for -d)")
	fs.StringVar(&o.flush, "flush", "unknown", "the server's sync setting, copied into the summary (the server does not report it)")
	fs.StringVar(&o.jsonOut, "json", "", "write a JSON summary to this `file`")
	if err := fs.Parse(args[1:]); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.sendMode != "sync" && o.sendMode != "async" {
		return o, fmt.Errorf("-m %q: want sync or async", o.sendMode)
	}
	if o.concurrency < 1 || o.size < 1 || o.window < 1 || o.batch < 1 {
		return o, errors.New("-c, -size, -w and -b must be positive")
	}
	return o, nil
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
	if err := ensureStream(ctx, o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "natsbench %s: stream=%s size=%d concurrency=%d mode=%s window=%d server sync=%s\n", o.mode, o.stream, o.size, o.concurrency, o.sendMode, o.window, o.flush)
	rec := bench.NewRecorder()
	start := time.Now()
	if o.mode == "pub" {
		err = publish(ctx, o, rec)
	} else {
		err = consume(ctx, o, rec)
	}
	// mqbench's summary, so one script reads both.
	sum := rec.Summary(time.Since(start))
	sum.Client, sum.Mode, sum.FlushMode = "nats", o.mode, o.flush
	return errors.Join(err, sum.Report(stdout, o.jsonOut))
}

func connect(o options) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(o.url, nats.Name("natsbench"))
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", o.url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(max(o.window, 1)))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// ensureStream creates the file-backed stream if it does not exist.
func ensureStream(ctx context.Context, o options) error {
	nc, js, err := connect(o)
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: o.stream, Subjects: []string{o.subject}, Storage: jetstream.FileStorage})
	if err != nil {
		return fmt.Errorf("stream %s: %w", o.stream, err)
	}
	return nil
}

// publish runs -c publishers until -d or -x. Latency is from publish to ack.
func publish(ctx context.Context, o options, rec *bench.Recorder) error {
	body := make([]byte, o.size)
	var sent atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, o.concurrency)
	for range o.concurrency {
		wg.Go(func() {
			nc, js, err := connect(o)
			if err != nil {
				errc <- err
				return
			}
			defer nc.Close()
			if o.sendMode == "async" {
				publishAsync(ctx, o, js, body, &sent, rec)
				return
			}
			for ctx.Err() == nil && (o.count == 0 || sent.Add(1) <= o.count) {
				t := time.Now()
				if _, err := js.Publish(ctx, o.subject, body); err != nil {
					if ctx.Err() == nil {
						rec.Failed(err)
					}
					continue
				}
				rec.Record(time.Since(t), 1)
			}
		})
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// publishAsync keeps up to -w acks outstanding: when the window is full it
// waits for the oldest.
func publishAsync(ctx context.Context, o options, js jetstream.JetStream, body []byte, sent *atomic.Int64, rec *bench.Recorder) {
	type inflight struct {
		f  jetstream.PubAckFuture
		at time.Time
	}
	var window []inflight
	wait := func(p inflight) {
		select {
		case <-p.f.Ok():
			rec.Record(time.Since(p.at), 1)
		case err := <-p.f.Err():
			rec.Failed(err)
		case <-time.After(10 * time.Second):
			rec.Failed(errors.New("no ack within 10s"))
		}
	}
	for ctx.Err() == nil && (o.count == 0 || sent.Add(1) <= o.count) {
		if len(window) == o.window {
			wait(window[0])
			window = window[1:]
		}
		f, err := js.PublishAsync(o.subject, body)
		if err != nil {
			rec.Failed(err)
			continue
		}
		window = append(window, inflight{f: f, at: time.Now()})
	}
	for _, p := range window {
		wait(p)
	}
}

// consume reads the stream from the start with a durable pull consumer
// (no acks: like an offset a Surge consumer commits per batch), pulling
// continuously with up to -b messages buffered, until -x messages or -d.
// Latency is not measured: for a stored backlog it would be the age of the
// messages.
func consume(ctx context.Context, o options, rec *bench.Recorder) error {
	nc, js, err := connect(o)
	if err != nil {
		return err
	}
	defer nc.Close()
	cons, err := js.CreateOrUpdateConsumer(ctx, o.stream, jetstream.ConsumerConfig{Durable: o.consumer, AckPolicy: jetstream.AckNonePolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", o.consumer, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(o.batch))
	if err != nil {
		return fmt.Errorf("consumer %s: %w", o.consumer, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop) // -d: Next returns an error
	defer stop()
	for o.count == 0 || rec.Count() < o.count {
		if _, err := it.Next(); err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("consume: %w", err)
		}
		rec.Add(1)
	}
	return nil
}
