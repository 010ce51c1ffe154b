package loadtest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// poller follows admitted requests until they settle: it asks for each
// pending request's status again no sooner than interval after the last
// answer, round robin, at most limit polls per second over all workers.
type poller struct {
	api      *API
	sampler  *Sampler
	limiter  *rate.Limiter
	interval time.Duration
	log      *slog.Logger

	mu       sync.Mutex // guards the fields below
	queue    []pendingRequest
	inflight int
	outcomes map[string]RequestStatus
	wake     chan struct{} // signalled (without blocking) on Add
}

type pendingRequest struct {
	id       string
	admitted time.Time
	next     time.Time
}

func newPoller(api *API, s *Sampler, limit float64, interval time.Duration, log *slog.Logger) *poller {
	return &poller{api: api, sampler: s, limiter: rate.NewLimiter(rate.Limit(limit), max(int(limit/10), 1)),
		interval: interval, log: log, outcomes: map[string]RequestStatus{}, wake: make(chan struct{}, 1)}
}

// setRate changes the polls per second over all.
func (p *poller) setRate(limit float64) {
	p.limiter.SetLimit(rate.Limit(limit))
	p.limiter.SetBurst(max(int(limit/10), 1))
}

// Add starts following a request admitted at admitted.
func (p *poller) Add(id string, admitted time.Time) {
	p.mu.Lock()
	p.queue = append(p.queue, pendingRequest{id: id, admitted: admitted, next: admitted.Add(p.interval)})
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Pending is the number of requests not yet settled.
func (p *poller) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue) + p.inflight
}

// Outcomes returns the last status read of every request polled.
func (p *poller) Outcomes() map[string]RequestStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]RequestStatus, len(p.outcomes))
	for k, v := range p.outcomes {
		out[k] = v
	}
	return out
}

// run polls with the given number of workers until ctx ends.
func (p *poller) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { p.work(ctx) })
	}
	wg.Wait()
}

func (p *poller) work(ctx context.Context) {
	for {
		req, ok := p.take(ctx)
		if !ok {
			return
		}
		if p.limiter.Wait(ctx) != nil {
			p.putBack(req)
			return
		}
		st, err := p.api.Status(ctx, req.id)
		now := time.Now()
		p.mu.Lock()
		p.inflight--
		if err == nil {
			p.outcomes[req.id] = st
		}
		if err == nil && st.Settled() {
			p.mu.Unlock()
			p.sampler.RecordOutcome(now, req.admitted, st.Status)
			continue
		}
		req.next = now.Add(p.interval)
		p.queue = append(p.queue, req)
		p.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			p.log.Debug("status poll failed", "request", req.id, "err", err)
		}
	}
}

// idlePoll bounds how long an idle worker sleeps: one Add wakes only one
// worker, the others look again after this.
const idlePoll = 50 * time.Millisecond

// take waits for the oldest pending request to be due and claims it.
func (p *poller) take(ctx context.Context) (pendingRequest, bool) {
	for {
		p.mu.Lock()
		wait := idlePoll
		if len(p.queue) > 0 {
			req := p.queue[0]
			if wait = time.Until(req.next); wait <= 0 {
				p.queue = p.queue[1:]
				p.inflight++
				p.mu.Unlock()
				return req, true
			}
		}
		p.mu.Unlock()
		t := time.NewTimer(min(wait, idlePoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return pendingRequest{}, false
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (p *poller) putBack(req pendingRequest) {
	p.mu.Lock()
	p.inflight--
	p.queue = append(p.queue, req)
	p.mu.Unlock()
}
