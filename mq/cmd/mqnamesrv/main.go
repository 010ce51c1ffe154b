// Command mqnamesrv runs a Surge NameServer.
//
//	mqnamesrv                         # listens on 0.0.0.0:9876
//	mqnamesrv --listen 127.0.0.1:9876 -c namesrv.conf
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/surge-mq/surge/mq/namesrv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqnamesrv:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mqnamesrv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "listen `address` (default 0.0.0.0:9876, or listenPort from -c)")
	conf := fs.String("c", "", "namesrv.conf `file` (listenPort, scanNotActiveBrokerInterval)")
	printCfg := fs.Bool("p", false, "print the effective configuration and exit")
	check := fs.Bool("check", false, "validate the configuration and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg := namesrv.Config{ListenAddr: "0.0.0.0:9876", BrokerExpiry: 120 * time.Second, ScanInterval: 10 * time.Second}
	if *conf != "" {
		warns, err := loadConf(*conf, &cfg)
		for _, w := range warns {
			fmt.Fprintln(stderr, "warning:", w)
		}
		if err != nil {
			return err
		}
	}
	if *listen != "" {
		cfg.ListenAddr = *listen
	}
	if *printCfg {
		fmt.Fprintf(stdout, "listenAddr=%s\nscanNotActiveBrokerInterval=%d\nbrokerExpiry=%d\n", cfg.ListenAddr, cfg.ScanInterval.Milliseconds(), cfg.BrokerExpiry.Milliseconds())
		return nil
	}
	if *check {
		fmt.Fprintln(stdout, "configuration OK")
		return nil
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	s, err := namesrv.New(cfg)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cfg.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(s.Shutdown(sctx), <-errc)
}

// ignoredConfKeys are RocketMQ NameServer settings that do not apply.
var ignoredConfKeys = map[string]bool{
	"rocketmqHome": true, "kvConfigPath": true, "configStorePath": true, "serverWorkerThreads": true,
	"serverCallbackExecutorThreads": true, "serverSelectorThreads": true, "orderMessageEnable": true,
	"clusterTest": true, "productEnvName": true, "serverOnewaySemaphoreValue": true, "serverAsyncSemaphoreValue": true,
}

// loadConf reads a namesrv.conf (Java properties). Unknown keys are
// warnings with their line; malformed values are errors, all reported.
func loadConf(path string, cfg *namesrv.Config) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var warns []string
	var errs []error
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: %q is not key=value", path, line, text))
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "listenPort":
			p, err := strconv.Atoi(v)
			if err != nil || p <= 0 || p > 65535 {
				errs = append(errs, fmt.Errorf("%s:%d: listenPort: want a port, got %q", path, line, v))
				continue
			}
			cfg.ListenAddr = "0.0.0.0:" + v
		case "listenAddr":
			cfg.ListenAddr = v
		case "scanNotActiveBrokerInterval":
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				errs = append(errs, fmt.Errorf("%s:%d: scanNotActiveBrokerInterval: want milliseconds, got %q", path, line, v))
				continue
			}
			cfg.ScanInterval = time.Duration(ms) * time.Millisecond
		default:
			if ignoredConfKeys[k] {
				warns = append(warns, fmt.Sprintf("%s:%d: %s is ignored by Surge", path, line, k))
			} else {
				warns = append(warns, fmt.Sprintf("%s:%d: unknown key %s", path, line, k))
			}
		}
	}
	return warns, errors.Join(append(errs, sc.Err())...)
}
