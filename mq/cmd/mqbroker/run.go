package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/namesrv"
)

type options struct {
	namesrv    string
	configFile string
	check      bool
	print      bool
	dev        bool
	storeDir   string
	listen     string
	logLevel   string
	pprofAddr  string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mqbroker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.namesrv, "n", "", "NameServer addresses, `host:port;host:port` (default $NAMESRV_ADDR or namesrvAddr in the config)")
	fs.StringVar(&o.configFile, "c", "", "broker.conf `file` with RocketMQ's keys")
	fs.BoolVar(&o.check, "check", false, "validate the configuration, list every problem and exit")
	fs.BoolVar(&o.print, "p", false, "print the effective configuration and exit")
	fs.BoolVar(&o.dev, "dev", false, "development mode: an embedded NameServer, a temporary store, auto-create on")
	fs.StringVar(&o.storeDir, "store", "", "store `dir` (storePathRootDir); with --dev the default is a new temporary dir")
	fs.StringVar(&o.listen, "listen", "", "listen `address` (default :listenPort)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.pprofAddr, "pprof", "", "serve net/http/pprof on this `address` (for example 127.0.0.1:6060; off by default)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: mqbroker [flags]

Runs a Surge broker, which speaks Apache RocketMQ 4.x's protocol.

Examples:
  mqbroker --dev                                  # try it out: NameServer on :9876, broker on :10911
  mqbroker -n 127.0.0.1:9876 -c conf/broker.conf
  NAMESRV_ADDR="10.0.0.1:9876;10.0.0.2:9876" mqbroker -c broker.conf
  mqbroker --check -c broker.conf                 # validate and exit

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

// loadConfig builds the broker config from the flags, the environment and
// the config file, in increasing order of precedence: file, then env,
// then flags.
func loadConfig(o options, getenv func(string) string, stderr io.Writer) (broker.Config, error) {
	var cfg broker.Config
	if o.configFile != "" {
		warns, err := broker.LoadConfigFile(o.configFile, &cfg)
		for _, w := range warns {
			fmt.Fprintln(stderr, "warning:", w)
		}
		if err != nil {
			return cfg, err
		}
	}
	if v := getenv("NAMESRV_ADDR"); v != "" {
		cfg.NamesrvAddrs = broker.SplitNamesrvAddr(v)
	}
	if o.namesrv != "" {
		cfg.NamesrvAddrs = broker.SplitNamesrvAddr(o.namesrv)
	}
	if o.storeDir != "" {
		cfg.Store.Dir = o.storeDir
	}
	if o.listen != "" {
		cfg.ListenAddr = o.listen
		// The advertised port follows the listen address.
		if _, port, err := net.SplitHostPort(o.listen); err == nil && port != "0" {
			if p, err := strconv.Atoi(port); err == nil {
				cfg.ListenPort = p
			}
		}
	}
	if cfg.Store.Dir == "" && !o.dev {
		home, _ := os.UserHomeDir()
		cfg.Store.Dir = home + "/store" // RocketMQ's default: $HOME/store
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o, getenv, stderr)
	if err != nil {
		return err
	}
	if o.print {
		return broker.WriteConfig(stdout, cfg)
	}
	if o.check {
		if err := broker.CheckConfig(cfg); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "configuration OK")
		return nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level %q: %w", o.logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log
	if o.pprofAddr != "" {
		stopPprof, err := servePprof(o.pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	if o.dev {
		return runDev(ctx, cfg, stdout, log)
	}
	return serve(ctx, cfg, log)
}

// serve runs a broker until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, cfg broker.Config, log *slog.Logger) error {
	b, err := broker.New(cfg)
	if err != nil {
		return err
	}
	return serveBroker(ctx, b, log)
}

func serveBroker(ctx context.Context, b *broker.Broker, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- b.ListenAndServe() }()
	select {
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return errors.Join(err, b.Shutdown(sctx))
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(b.Shutdown(sctx), <-errc)
}

// runDev runs a NameServer and a broker in one process: the zero-config
// start for demos and tutorials.
func runDev(ctx context.Context, cfg broker.Config, stdout io.Writer, log *slog.Logger) error {
	nsAddr := "127.0.0.1:9876"
	if len(cfg.NamesrvAddrs) > 0 {
		nsAddr = cfg.NamesrvAddrs[0]
	}
	ln, err := net.Listen("tcp", nsAddr)
	if err != nil {
		return fmt.Errorf("--dev: NameServer cannot listen on %s: %w (is another NameServer running? pass -n host:port to pick another)", nsAddr, err)
	}
	ns, err := namesrv.New(namesrv.Config{Logger: log})
	if err != nil {
		return err
	}
	nsErr := make(chan error, 1)
	go func() { nsErr <- ns.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ns.Shutdown(sctx)
		<-nsErr
	}()
	cfg.NamesrvAddrs = []string{ln.Addr().String()}
	if cfg.Store.Dir == "" {
		dir, err := os.MkdirTemp("", "surge-dev-store-")
		if err != nil {
			return err
		}
		cfg.Store.Dir = dir
		defer os.RemoveAll(dir)
	}
	if cfg.BrokerIP == "" {
		cfg.BrokerIP = "127.0.0.1"
	}
	on := true
	cfg.AutoCreateTopicEnable = &on
	b, err := broker.New(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Surge dev mode\n  NameServer: %s   (export NAMESRV_ADDR=%s)\n  Broker:     %s\n  Store:      %s\nPress Ctrl-C to stop.\n",
		ln.Addr(), ln.Addr(), b.Addr(), cfg.Store.Dir)
	return serveBroker(ctx, b, log)
}
