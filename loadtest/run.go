package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Config describes a run. Zero fields take the documented defaults.
type Config struct {
	// API reaches the gateway and the inventory service. Required.
	API *API
	// Activity is the seckill activity, i.e. the flash-sale product's SKU.
	// Default "FLASH-1".
	Activity string
	// Profile is the offered load over time. Required.
	Profile Profile
	// Users is how many distinct users send requests. Default 10000.
	Users int
	// Seed makes the choice of users repeatable. Default 1.
	Seed uint64
	// Stock is set on the product before the run; negative keeps the
	// stock the product has.
	Stock int64
	// PriceCents is the product's price when Stock is set. Default 100.
	PriceCents int64
	// Backlog reads the order service's consumer lag; nil leaves the
	// backlog and consume-rate series empty.
	Backlog BacklogReader
	// RequestTimeout bounds each seckill request. Default 10s.
	RequestTimeout time.Duration
	// PollWorkers, PollRate and PollInterval shape the status polling:
	// parallel polls (default 8), polls per second over all (default
	// 2000), and the least time between two polls of one request
	// (default 250ms). While the attack runs, polls go at most at
	// AttackPollRate (default PollRate/20): status polls travel through
	// the gateway and the order service too, and at full rate they would
	// be a second load the spike's figures include.
	PollWorkers    int
	PollRate       float64
	AttackPollRate float64
	PollInterval   time.Duration
	// SettleTimeout is how long to wait after the last request for every
	// admitted request to settle. Default 60s.
	SettleTimeout time.Duration
	// DrainWait is how long, after every request settled, the gauges go
	// on waiting for the backlog to read 0. Default 15s.
	DrainWait time.Duration
	// DuringSpike, if set, runs when the "spike" phase starts (a broker
	// restart, say). Its error is reported, not fatal.
	DuringSpike func(ctx context.Context) error
	// MinJain is the fairness threshold for reconciliation (default 0.5).
	MinJain float64
	// Logger gets progress; nil discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Activity == "" {
		c.Activity = "FLASH-1"
	}
	if c.Users == 0 {
		c.Users = 10000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.PriceCents == 0 {
		c.PriceCents = 100
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.PollWorkers == 0 {
		c.PollWorkers = 8
	}
	if c.PollRate == 0 {
		c.PollRate = 2000
	}
	if c.AttackPollRate == 0 {
		c.AttackPollRate = c.PollRate / 20
	}
	if c.PollInterval == 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.DrainWait == 0 {
		c.DrainWait = 15 * time.Second
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.API == nil || c.API.Gateway == "" {
		errs = append(errs, errors.New("no gateway URL"))
	}
	if err := c.Profile.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Users < 1 {
		errs = append(errs, fmt.Errorf("users %d: want at least 1", c.Users))
	}
	if c.PollWorkers < 1 || c.PollRate <= 0 || c.AttackPollRate < 0 || c.PollInterval < 0 {
		errs = append(errs, errors.New("poll workers and rate must be positive"))
	}
	return errors.Join(errs...)
}

// Totals counts a run's requests by class.
type Totals struct {
	Sent        int `json:"sent"`
	Admitted    int `json:"admitted"`
	Rejected    int `json:"rejected"`
	Unavailable int `json:"unavailable"`
	Errors      int `json:"errors"`
}

// Result is everything a run measured; the report renders it.
type Result struct {
	Activity  string         `json:"activity"`
	Profile   Profile        `json:"profile"`
	Users     int            `json:"users"`
	Stock     int64          `json:"stock"`
	Started   time.Time      `json:"started"`
	Duration  time.Duration  `json:"duration"`
	Samples   []Sample       `json:"samples"`
	Totals    Totals         `json:"totals"`
	Gateway   Percentiles    `json:"gateway_latency"`
	Rejected  Percentiles    `json:"rejected_latency"`
	Outcome   Percentiles    `json:"time_to_outcome"`
	Verdict   Verdict        `json:"verdict"`
	Stats     map[string]any `json:"gateway_stats,omitempty"`
	Notes     []string       `json:"notes,omitempty"`
	FirstErrs []string       `json:"first_errors,omitempty"`
}

// maxConns caps the load generator's connections to the gateway.
const maxConns = 512

// Run drives the gateway with the profile, follows every admitted request
// to its outcome, and reconciles. An error means the run could not be
// made; a failed reconciliation is in Result.Verdict.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loadtest config: %w", err)
	}
	log := cfg.Logger
	api := cfg.API
	res := &Result{Activity: cfg.Activity, Profile: cfg.Profile, Users: cfg.Users}
	if cfg.Stock >= 0 {
		if err := api.SetStock(ctx, cfg.Activity, Product{Name: "flash sale " + cfg.Activity, PriceCents: cfg.PriceCents, Stock: cfg.Stock}); err != nil {
			return nil, fmt.Errorf("set stock of %s: %w", cfg.Activity, err)
		}
	}
	stock, err := api.Stock(ctx, cfg.Activity)
	if err != nil {
		return nil, fmt.Errorf("read stock of %s: %w", cfg.Activity, err)
	}
	res.Stock = stock
	log.Info("stock set", "sku", cfg.Activity, "stock", stock)

	start := time.Now()
	res.Started = start
	sampler := NewSampler(start, cfg.Profile)
	poll := newPoller(api, sampler, cfg.AttackPollRate, cfg.PollInterval, log)
	var stockSeen []int64
	var stockMu sync.Mutex

	bgCtx, stopBg := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Go(func() { poll.run(bgCtx, cfg.PollWorkers) })
	bg.Go(func() {
		gauges(bgCtx, cfg, sampler, poll.Pending, func(s int64) {
			stockMu.Lock()
			stockSeen = append(stockSeen, s)
			stockMu.Unlock()
		})
	})
	var hookErr error
	if cfg.DuringSpike != nil {
		if at, _, ok := cfg.Profile.Window("spike"); ok {
			bg.Go(func() { hookErr = runHookAt(bgCtx, ctx, start.Add(at), cfg.DuringSpike) })
		} else {
			res.Notes = append(res.Notes, "no spike phase: the during-spike hook did not run")
		}
	}

	ledger := Ledger{StockInitial: stock}
	// Our own client (vegeta's timeout and keep-alive options would set
	// the client this replaces). Connections are capped and all kept
	// alive: without a cap, a moment of slowness opens new connections by
	// the thousand and the generator spends its CPU dialing (measured: 40%
	// of it at 20,000 requests/s), which makes the moment last. A request
	// waiting for a free connection still counts its wait from its
	// scheduled time, so the cap hides no latency.
	transport := &http.Transport{MaxConnsPerHost: maxConns, MaxIdleConnsPerHost: maxConns, IdleConnTimeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	attacker := vegeta.NewAttacker(
		vegeta.MaxBody(4096),
		vegeta.Client(&http.Client{Timeout: cfg.RequestTimeout, Transport: userTransport{next: transport}}),
	)
	stopAttack := context.AfterFunc(ctx, func() { attacker.Stop() })
	results := attacker.Attack(seckillTargeter(api.SeckillURL(cfg.Activity), Users{N: cfg.Users, Seed: cfg.Seed}), cfg.Profile.Pacer(), 0, "seckill")
	log.Info("attack started", "profile", cfg.Profile.String(), "users", cfg.Users)
	for r := range results {
		res.Totals.count(int(r.Code))
		sampler.RecordRequest(r.Timestamp, int(r.Code), r.Latency)
		if r.Code != http.StatusAccepted {
			if r.Code != http.StatusTooManyRequests && len(res.FirstErrs) < 10 {
				res.FirstErrs = append(res.FirstErrs, fmt.Sprintf("%d %s %s", r.Code, r.Error, trimBody(r.Body)))
			}
			continue
		}
		var adm Admission
		if err := json.Unmarshal(r.Body, &adm); err != nil || adm.RequestID == "" {
			res.Totals.Admitted-- // unusable: an error, not an admission
			res.Totals.Errors++
			if len(res.FirstErrs) < 10 {
				res.FirstErrs = append(res.FirstErrs, fmt.Sprintf("202 without a request_id: %s", trimBody(r.Body)))
			}
			continue
		}
		at := r.Timestamp.Add(r.Latency)
		ledger.Admissions = append(ledger.Admissions, AdmittedRequest{RequestID: adm.RequestID, User: r.Headers.Get(userHeader), At: at})
		poll.Add(adm.RequestID, at)
	}
	stopAttack()
	poll.setRate(cfg.PollRate)
	log.Info("attack done, waiting for outcomes", "sent", res.Totals.Sent, "admitted", res.Totals.Admitted, "pending", poll.Pending())

	settleBy := time.NewTimer(cfg.SettleTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	for poll.Pending() > 0 {
		select {
		case <-ctx.Done():
		case <-settleBy.C:
			res.Notes = append(res.Notes, fmt.Sprintf("%d requests still pending after the %s settle timeout", poll.Pending(), cfg.SettleTimeout))
		case <-tick.C:
			continue
		}
		break
	}
	settleBy.Stop()
	tick.Stop()
	// Gauges go on until the backlog reads 0 (consumers commit their
	// offsets every few seconds, so the lag trails the outcomes), so that
	// the charts show the drain; at most DrainWait.
	drainBy := time.Now().Add(cfg.DrainWait)
	for ctx.Err() == nil && time.Now().Before(drainBy) {
		if b, ok := sampler.LastBacklog(); ok && b == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ctx.Err() == nil {
		time.Sleep(time.Second) // one more reading at 0
	}
	stopBg()
	bg.Wait()
	if hookErr != nil {
		res.Notes = append(res.Notes, "during-spike hook: "+hookErr.Error())
	}

	// The final readings use a fresh context: a cancelled run still reports.
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if s, err := api.Stock(final, cfg.Activity); err == nil {
		ledger.StockFinal = &s
	} else {
		res.Notes = append(res.Notes, "final stock: "+err.Error())
	}
	if st, err := api.Stats(final); err == nil {
		res.Stats = st
	} else {
		res.Notes = append(res.Notes, "gateway stats: "+err.Error())
	}
	stockMu.Lock()
	ledger.StockSeen = stockSeen
	stockMu.Unlock()
	ledger.Outcomes = poll.Outcomes()
	res.Verdict = Reconcile(ledger, ReconcileOptions{MinJain: cfg.MinJain})
	res.Samples = sampler.Samples()
	res.Gateway, res.Rejected, res.Outcome = sampler.Latency()
	res.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("run interrupted: %w", err)
	}
	return res, nil
}

func (t *Totals) count(code int) {
	t.Sent++
	switch Classify(code) {
	case ClassAdmitted:
		t.Admitted++
	case ClassRejected:
		t.Rejected++
	case ClassUnavailable:
		t.Unavailable++
	default:
		t.Errors++
	}
}

func trimBody(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// gauges reads the backlog and the stock once a second until ctx ends,
// and logs progress every few seconds.
func gauges(ctx context.Context, cfg Config, s *Sampler, pending func() int, stock func(int64)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for i := 0; ; i++ {
		g := read(ctx, cfg)
		s.RecordGauge(time.Now(), g)
		if g.Stock != nil {
			stock(*g.Stock)
		}
		if i%5 == 0 {
			cfg.Logger.Info("progress", "second", i, "pending", pending(), "backlog", fmtOptional(g.Backlog), "stock", fmtOptional(g.Stock))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// read takes one reading of the backlog and the stock.
func read(ctx context.Context, cfg Config) Gauge {
	ctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	defer cancel()
	var g Gauge
	if cfg.Backlog != nil {
		if lag, done, err := cfg.Backlog.Backlog(ctx); err == nil {
			g.Backlog, g.ConsumerOffset = &lag, &done
		} else if ctx.Err() == nil {
			cfg.Logger.Debug("backlog not read", "err", err)
		}
	}
	if n, err := cfg.API.Stock(ctx, cfg.Activity); err == nil {
		g.Stock = &n
	}
	return g
}

func fmtOptional(v *int64) string {
	if v == nil {
		return "unknown"
	}
	return strconv.FormatInt(*v, 10)
}

// runHookAt runs hook at at, unless wait ends first. The hook gets run,
// the whole run's context: once started (say, a broker restart), it is not
// cut short because the requests settled.
func runHookAt(wait, run context.Context, at time.Time, hook func(context.Context) error) error {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-wait.Done():
		return nil
	case <-t.C:
	}
	return hook(run)
}
