package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/surge-mq/surge/loadtest"
	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
)

// errVerdictFailed: the run was made and a reconciliation check failed.
var errVerdictFailed = errors.New("reconciliation failed")

type options struct {
	scenario       string
	gateway        string
	inventory      string
	activity       string
	rate           float64
	factor         float64
	baseline       time.Duration
	spike          time.Duration
	tail           time.Duration
	users          int
	seed           uint64
	stock          int64
	namesrv        string
	group          string
	topic          string
	duringSpike    string
	settleTimeout  time.Duration
	pollWorkers    int
	pollRate       float64
	minJain        float64
	out            string
	logLevel       string
	cpuProfile     string
	attackPollRate float64
}

// A scenario is a named set of flag defaults; flags given explicitly win.
type scenario struct {
	about    string
	defaults map[string]string
}

var scenarios = map[string]scenario{
	"spike": {about: "baseline, a spike of many times the baseline rate, a tail", defaults: map[string]string{}},
	"broker-restart": {about: "the spike with a broker restart while it lasts (needs -during-spike)",
		defaults: map[string]string{"tail": "30s", "settle-timeout": "180s"}},
	"slow-consumer": {about: "the spike against an order service throttled with SECKILL_CONSUME_DELAY: the backlog grows and drains",
		defaults: map[string]string{"tail": "40s", "settle-timeout": "300s"}},
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", "spike", "named preset: spike, broker-restart or slow-consumer")
	fs.StringVar(&o.gateway, "gateway", envOr("GATEWAY_URL", "http://127.0.0.1:8080"), "gateway base `URL` ($GATEWAY_URL)")
	fs.StringVar(&o.inventory, "inventory-url", envOr("INVENTORY_URL", "http://127.0.0.1:8082"), "inventory service base `URL`, to set and read stock ($INVENTORY_URL)")
	fs.StringVar(&o.activity, "activity", "FLASH-1", "seckill activity = the flash-sale product's SKU")
	fs.Float64Var(&o.rate, "rate", 100, "baseline rate, requests/s")
	fs.Float64Var(&o.factor, "spike-factor", 20, "spike rate = factor × baseline rate")
	fs.DurationVar(&o.baseline, "baseline", 10*time.Second, "baseline duration before the spike")
	fs.DurationVar(&o.spike, "spike", 10*time.Second, "spike duration")
	fs.DurationVar(&o.tail, "tail", 20*time.Second, "tail duration after the spike, at the baseline rate")
	fs.IntVar(&o.users, "users", 10000, "distinct users")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the choice of users")
	fs.Int64Var(&o.stock, "stock", 500, "stock to set before the run (-1: keep the product's stock)")
	fs.StringVar(&o.namesrv, "namesrv", envOr("NAMESRV_ADDR", "127.0.0.1:9876"), "NameServer `addresses` (host:port;host:port) to read the backlog; empty: no backlog")
	fs.StringVar(&o.group, "group", "order-service", "the order service's consumer group on the seckill topic")
	fs.StringVar(&o.topic, "topic", "SECKILL_REQUESTS", "seckill topic")
	fs.StringVar(&o.duringSpike, "during-spike", "", "shell `command` run (sh -c) when the spike starts, e.g. a broker restart")
	fs.DurationVar(&o.settleTimeout, "settle-timeout", 60*time.Second, "how long to wait after the last request for every admitted request to settle")
	fs.IntVar(&o.pollWorkers, "poll-workers", 8, "parallel status polls")
	fs.Float64Var(&o.pollRate, "poll-rate", 2000, "status polls per second at most, once the attack is over")
	fs.Float64Var(&o.attackPollRate, "attack-poll-rate", 0, "status polls per second at most while the attack runs (0: poll-rate/20), so that polling does not load the platform the spike measures")
	fs.Float64Var(&o.minJain, "min-jain", 0.5, "lowest acceptable Jain fairness index of admissions over users")
	fs.StringVar(&o.out, "out", "loadtest-report", "report `dir`")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to `file` (is it the bottleneck?)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest [flags]\n\nScenarios:")
		for _, name := range []string{"spike", "broker-restart", "slow-consumer"} {
			fmt.Fprintf(stderr, "  %-15s %s\n", name, scenarios[name].about)
		}
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	sc, ok := scenarios[o.scenario]
	if !ok {
		return o, fmt.Errorf("-scenario %q: want spike, broker-restart or slow-consumer", o.scenario)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range sc.defaults {
		if !set[name] {
			if err := fs.Set(name, v); err != nil {
				return o, fmt.Errorf("scenario %s: %w", o.scenario, err)
			}
		}
	}
	if o.scenario == "broker-restart" && o.duringSpike == "" {
		return o, errors.New("-scenario broker-restart needs -during-spike 'command that restarts the broker'")
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
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	profile, err := loadtest.SpikeProfile(o.rate, o.factor, o.baseline, o.spike, o.tail)
	if err != nil {
		return err
	}
	cfg := loadtest.Config{
		API:            &loadtest.API{Gateway: o.gateway, Inventory: o.inventory},
		Activity:       o.activity,
		Profile:        profile,
		Users:          o.users,
		Seed:           o.seed,
		Stock:          o.stock,
		SettleTimeout:  o.settleTimeout,
		PollWorkers:    o.pollWorkers,
		PollRate:       o.pollRate,
		AttackPollRate: o.attackPollRate,
		MinJain:        o.minJain,
		Logger:         log,
	}
	if addrs := broker.SplitNamesrvAddr(o.namesrv); len(addrs) > 0 {
		admin, err := client.NewAdmin(client.WithNameServers(addrs...), client.WithSendTimeout(time.Second))
		if err != nil {
			return fmt.Errorf("admin client: %w", err)
		}
		defer admin.Close()
		cfg.Backlog = loadtest.ConsumerLag{Admin: admin, Group: o.group, Topic: o.topic}
	}
	if o.duringSpike != "" {
		cfg.DuringSpike = shellHook(o.duringSpike, log)
	}
	res, runErr := loadtest.Run(ctx, cfg)
	if res == nil {
		return runErr
	}
	res.Notes = append([]string{"scenario " + o.scenario + ": " + scenarios[o.scenario].about}, res.Notes...)
	if err := loadtest.WriteReport(o.out, res); err != nil {
		return err
	}
	if err := loadtest.WriteSummary(stdout, res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreport: %s\n", strings.TrimRight(o.out, "/")+"/"+loadtest.ReportHTML)
	if runErr != nil {
		return runErr
	}
	if !res.Verdict.Passed() {
		return fmt.Errorf("%w: %s", errVerdictFailed, strings.Join(res.Verdict.Failed(), "; "))
	}
	return nil
}

// shellHook runs command with sh -c; its output goes to the log.
func shellHook(command string, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		log.Info("spike started, running hook", "command", command)
		out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
		log.Info("hook done", "command", command, "output", strings.TrimSpace(string(out)), "err", err)
		if err != nil {
			return fmt.Errorf("%q: %w", command, err)
		}
		return nil
	}
}
