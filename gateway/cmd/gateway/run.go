package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/surge-mq/surge/gateway"
)

func run(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ackBeforeSend := fs.Bool("ack-before-send", false, "teaching switch: answer 202 before the broker stored the request (same as SECKILL_ACK_BEFORE_SEND=true)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: gateway [flags]

Runs Surge's HTTP gateway. It is configured by environment variables:

`)
		printEnv(stderr)
		fmt.Fprint(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	s, err := loadSettings(getenv)
	if err != nil {
		return err
	}
	s.gw.AckBeforeSend = s.gw.AckBeforeSend || *ackBeforeSend
	log := s.logger(stderr)
	s.gw.Logger = log
	ln, err := net.Listen("tcp", s.httpAddr)
	if err != nil {
		return err
	}
	return serve(ctx, s, ln, log)
}

// serve runs the gateway on ln until ctx ends, then shuts down in order:
// stop accepting and finish the requests in progress (their sends
// included), then wait for background sends and close the producer.
func serve(ctx context.Context, s settings, ln net.Listener, log *slog.Logger) error {
	gw, err := gateway.New(s.gw)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           gw.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      max(s.gw.UpstreamTimeout, s.gw.SendTimeout) + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("gateway listening", "addr", ln.Addr().String(), "namesrv", s.gw.NameServers)

	select {
	case err = <-served: // the listener failed
		return errors.Join(fmt.Errorf("serve: %w", err), gw.Close())
	case <-ctx.Done():
	}
	log.Info("gateway shutting down", "in_flight", gw.Stats().Snapshot().InFlight)
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err = srv.Shutdown(sctx); err != nil {
		err = fmt.Errorf("shutdown: %w", errors.Join(err, srv.Close()))
	}
	<-served // http.ErrServerClosed
	err = errors.Join(err, gw.Close())
	log.Info("gateway stopped", "err", err)
	return err
}
