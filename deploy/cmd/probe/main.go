// Command probe is the health check of Surge's container images, which have
// no shell: it checks each target and exits 0 only when all answer.
//
//	probe http://127.0.0.1:8081/readyz   # a 2xx answer
//	probe tcp://127.0.0.1:9876           # a TCP connection is accepted
//
// On failure it prints what failed (with the first bytes of an HTTP body,
// which names what is not ready) and exits 1; bad arguments exit 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "how long each target may take")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: probe [-timeout 3s] http://host:port/path | tcp://host:port ...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	targets := make([]target, 0, fs.NArg())
	for _, a := range fs.Args() {
		t, err := parseTarget(a)
		if err != nil {
			fmt.Fprintln(stderr, "probe:", err)
			return 2
		}
		targets = append(targets, t)
	}
	code := 0
	for _, t := range targets {
		if err := t.check(ctx, *timeout); err != nil {
			fmt.Fprintln(stderr, "probe:", err)
			code = 1
		}
	}
	return code
}
