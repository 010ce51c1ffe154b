package seckill

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surge-mq/surge/gateway/internal/apierror"
)

// Stats counts what happened to flash-sale requests since the start. Every
// field only grows, except InFlight.
type Stats struct {
	invalid        atomic.Int64
	offered        atomic.Int64
	admitted       atomic.Int64
	rejectedGlobal atomic.Int64
	rejectedUser   atomic.Int64
	enqueued       atomic.Int64
	enqueueErrors  atomic.Int64
	inFlight       atomic.Int64
	users          func() int // user buckets kept by the limiter
}

// Snapshot is the JSON of GET /api/stats.
type Snapshot struct {
	// Invalid requests were refused before admission (400).
	Invalid int64 `json:"invalid"`
	// Offered = Admitted + Rejected.Global + Rejected.User.
	Offered  int64 `json:"offered"`
	Admitted int64 `json:"admitted"`
	Rejected struct {
		Global int64 `json:"global"`
		User   int64 `json:"user"`
	} `json:"rejected"`
	// Enqueued sends were confirmed by the broker (SendOK).
	Enqueued int64 `json:"enqueued"`
	// EnqueueErrors sends failed or were not confirmed (503, or lost when
	// answering before the send).
	EnqueueErrors int64 `json:"enqueue_errors"`
	// InFlight sends are waiting for the broker.
	InFlight    int64 `json:"in_flight"`
	UserBuckets int   `json:"user_buckets"`
}

// Snapshot reads the counters. They are read one by one, so a snapshot
// taken under load may be off by the requests of that instant.
func (s *Stats) Snapshot() Snapshot {
	var out Snapshot
	out.Invalid = s.invalid.Load()
	out.Offered = s.offered.Load()
	out.Admitted = s.admitted.Load()
	out.Rejected.Global = s.rejectedGlobal.Load()
	out.Rejected.User = s.rejectedUser.Load()
	out.Enqueued = s.enqueued.Load()
	out.EnqueueErrors = s.enqueueErrors.Load()
	out.InFlight = s.inFlight.Load()
	out.UserBuckets = s.users()
	return out
}

// ServeHTTP answers GET /api/stats.
func (s *Stats) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	apierror.WriteJSON(w, http.StatusOK, s.Snapshot())
}

// Collectors returns Prometheus views of the counters, for a registry.
func (s *Stats) Collectors() []prometheus.Collector {
	counter := func(name, help string, v *atomic.Int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "surge", Subsystem: "gateway_seckill", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "surge", Subsystem: "gateway_seckill", Name: name, Help: help,
		}, f)
	}
	const rejected = "Flash-sale requests refused with 429, by the bucket that refused them."
	return []prometheus.Collector{
		counter("invalid_total", "Flash-sale requests refused as malformed (400).", &s.invalid, nil),
		counter("offered_total", "Well-formed flash-sale requests that reached admission.", &s.offered, nil),
		counter("admitted_total", "Flash-sale requests the token buckets admitted.", &s.admitted, nil),
		counter("rejected_total", rejected, &s.rejectedGlobal, prometheus.Labels{"reason": "global"}),
		counter("rejected_total", rejected, &s.rejectedUser, prometheus.Labels{"reason": "user"}),
		counter("enqueued_total", "Admitted requests the broker confirmed storing.", &s.enqueued, nil),
		counter("enqueue_errors_total", "Admitted requests whose send failed or was not confirmed.", &s.enqueueErrors, nil),
		gauge("in_flight", "Sends waiting for the broker's answer.", func() float64 { return float64(s.inFlight.Load()) }),
		gauge("user_buckets", "Per-user token buckets kept in memory.", func() float64 { return float64(s.users()) }),
	}
}
