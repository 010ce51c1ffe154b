// Command mqnamesrv runs a Surge NameServer, which speaks Apache RocketMQ
// 4.x's protocol: brokers register with it, clients ask it for routes.
//
//	mqnamesrv                              # listens on 0.0.0.0:9876
//	mqnamesrv --listen 127.0.0.1:9876 -c namesrv.conf
//	mqnamesrv -c namesrv.conf -p           # print the effective configuration
//	mqnamesrv -c namesrv.conf --check      # validate and exit
//
// SIGINT or SIGTERM shuts it down gracefully. Exit codes: 0 success, 1 the
// server failed, 2 bad flags or configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/surge-mq/surge/mq/namesrv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqnamesrv:", err)
	}
	os.Exit(exitCode(err))
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the server could not run
	exitUsage   = 2 // bad flags or configuration
)

// usageError marks an error in flags or configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		return exitUsage
	}
	return exitFailure
}

type options struct {
	listen     string
	configFile string
	print      bool
	check      bool
	logLevel   slog.Level
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mqnamesrv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "", "listen `host:port` (default 0.0.0.0:9876, or listenAddr/listenPort from -c)")
	fs.StringVar(&o.configFile, "c", "", "namesrv.conf `file` (keys listenPort, listenAddr, scanNotActiveBrokerInterval, orderMessageEnable)")
	fs.BoolVar(&o.print, "p", false, "print the effective configuration and exit")
	fs.BoolVar(&o.check, "check", false, "validate the configuration, list every problem and exit")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: mqnamesrv [flags]

Runs a Surge NameServer, which speaks Apache RocketMQ 4.x's protocol.

Examples:
  mqnamesrv                                   # listen on 0.0.0.0:9876
  mqnamesrv --listen 127.0.0.1:9876
  mqnamesrv -c conf/namesrv.conf -p           # print the effective configuration
  mqnamesrv -c conf/namesrv.conf --check      # validate and exit

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	return o, nil
}

// loadConfig builds the configuration: defaults, then the config file,
// then the flags.
func loadConfig(o options, log *slog.Logger) (namesrv.Config, error) {
	cfg := namesrv.Config{
		ListenAddr:   namesrv.DefaultListenAddr,
		BrokerExpiry: namesrv.DefaultBrokerExpiry,
		ScanInterval: namesrv.DefaultScanInterval,
	}
	if o.configFile != "" {
		warns, err := loadConfFile(o.configFile, &cfg)
		for _, w := range warns {
			attrs := []any{"at", w.at(), "key", w.key}
			if w.detail != "" {
				attrs = append(attrs, "detail", w.detail)
			}
			log.Warn(w.msg, attrs...)
		}
		if err != nil {
			return cfg, err
		}
	}
	if o.listen != "" {
		cfg.ListenAddr = o.listen
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	cfg, err := loadConfig(o, log)
	if err != nil {
		return usageError{err}
	}
	cfg.Logger = log
	s, err := namesrv.New(cfg)
	if err != nil {
		return usageError{err}
	}
	switch {
	case o.print:
		return writeConf(stdout, cfg)
	case o.check:
		_, err := fmt.Fprintln(stdout, "mqnamesrv: configuration OK")
		return err
	}
	return s.ListenAndServe(ctx)
}
