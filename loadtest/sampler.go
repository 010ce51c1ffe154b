package loadtest

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Sample is one second of a run. Request counts belong to the second the
// request left in; gauges (backlog, stock) to the second they were read in;
// settled counts to the second the outcome was first seen.
type Sample struct {
	// Second counts from the start of the attack.
	Second int    `json:"t"`
	Phase  string `json:"phase"`
	// Target is the rate the profile asked for, requests/s.
	Target float64 `json:"target"`
	// Sent is the requests that left this second (the offered load).
	Sent int `json:"sent"`
	// Admitted got 202, Rejected 429, Unavailable 503; Errors is every
	// other status and every transport failure.
	Admitted    int `json:"admitted"`
	Rejected    int `json:"rejected"`
	Unavailable int `json:"unavailable"`
	Errors      int `json:"errors"`
	// Gateway latency of this second's requests, milliseconds.
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// Ordered and Refused are the outcomes first seen this second.
	Ordered int `json:"ordered"`
	Refused int `json:"refused"`
	// Backlog is the order service's consumer lag on SECKILL_REQUESTS;
	// nil when the broker could not be read.
	Backlog *int64 `json:"backlog"`
	// Consumed is how many messages the consumer group committed this
	// second; nil when unknown.
	Consumed *int64 `json:"consumed"`
	// Stock is the product's stock as inventory reported it; nil if unread.
	Stock *int64 `json:"stock"`
}

// Processed is the outcomes first seen this second.
func (s Sample) Processed() int { return s.Ordered + s.Refused }

// Gauge is one reading of the platform's state.
type Gauge struct {
	// Backlog is the consumer group's lag; ConsumerOffset the sum of its
	// committed offsets (to derive a consume rate). Nil when unread.
	Backlog        *int64
	ConsumerOffset *int64
	Stock          *int64
}

// Sampler folds a run's events into one Sample per second. It is safe for
// concurrent use.
type Sampler struct {
	start   time.Time
	profile Profile

	mu       sync.Mutex // guards the fields below
	buckets  []*bucket
	total    *hdrhistogram.Histogram // gateway latency of every request, µs
	rejected *hdrhistogram.Histogram // gateway latency of the 429s, µs
	settle   *hdrhistogram.Histogram // admission to outcome seen, µs
}

type bucket struct {
	s          Sample
	hist       *hdrhistogram.Histogram // µs
	lastOffset *int64                  // last consumer offset read this second
}

// PhaseSettle labels the seconds after the profile, while the backlog
// drains and outcomes arrive.
const PhaseSettle = "settle"

const maxLatencyMicros = 120_000_000

// NewSampler returns a sampler whose second 0 starts at start.
func NewSampler(start time.Time, p Profile) *Sampler {
	return &Sampler{start: start, profile: p,
		total:    hdrhistogram.New(1, maxLatencyMicros, 3),
		rejected: hdrhistogram.New(1, maxLatencyMicros, 3),
		settle:   hdrhistogram.New(1, maxLatencyMicros, 3)}
}

// bucketLocked returns the bucket of the second at, growing the series.
func (s *Sampler) bucketLocked(at time.Time) *bucket {
	sec := max(int(at.Sub(s.start)/time.Second), 0)
	for len(s.buckets) <= sec {
		n := len(s.buckets)
		ph, _, ok := s.profile.At(time.Duration(n) * time.Second)
		if !ok {
			ph.Name = PhaseSettle
		}
		s.buckets = append(s.buckets, &bucket{s: Sample{Second: n, Phase: ph.Name, Target: ph.Rate},
			hist: hdrhistogram.New(1, maxLatencyMicros, 2)})
	}
	return s.buckets[sec]
}

// Response classes of a request.
const (
	ClassAdmitted    = "admitted"
	ClassRejected    = "rejected"
	ClassUnavailable = "unavailable"
	ClassError       = "error"
)

// Classify names the class of an answer: code 0 is a transport failure.
func Classify(code int) string {
	switch code {
	case 202:
		return ClassAdmitted
	case 429:
		return ClassRejected
	case 503:
		return ClassUnavailable
	default:
		return ClassError
	}
}

// RecordRequest counts a request that left at sent and was answered with
// code (0: no answer) after latency.
func (s *Sampler) RecordRequest(sent time.Time, code int, latency time.Duration) {
	us := min(max(latency.Microseconds(), 1), maxLatencyMicros)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketLocked(sent)
	b.s.Sent++
	switch Classify(code) {
	case ClassAdmitted:
		b.s.Admitted++
	case ClassRejected:
		b.s.Rejected++
		_ = s.rejected.RecordValue(us)
	case ClassUnavailable:
		b.s.Unavailable++
	default:
		b.s.Errors++
	}
	_ = b.hist.RecordValue(us) // in range by construction
	_ = s.total.RecordValue(us)
}

// RecordOutcome counts a request whose final status was first seen at
// seen; admitted is when it was admitted.
func (s *Sampler) RecordOutcome(seen, admitted time.Time, status string) {
	us := min(max(seen.Sub(admitted).Microseconds(), 1), maxLatencyMicros)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketLocked(seen)
	if status == StatusOrdered {
		b.s.Ordered++
	} else {
		b.s.Refused++
	}
	_ = s.settle.RecordValue(us)
}

// RecordGauge keeps a reading taken at at; a later reading in the same
// second replaces an earlier one.
func (s *Sampler) RecordGauge(at time.Time, g Gauge) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketLocked(at)
	if g.Backlog != nil {
		b.s.Backlog = g.Backlog
	}
	if g.Stock != nil {
		b.s.Stock = g.Stock
	}
	if g.ConsumerOffset != nil {
		b.lastOffset = g.ConsumerOffset
	}
}

// LastBacklog returns the newest backlog reading, if any.
func (s *Sampler) LastBacklog() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.buckets) - 1; i >= 0; i-- {
		if b := s.buckets[i].s.Backlog; b != nil {
			return *b, true
		}
	}
	return 0, false
}

// Samples returns the series so far, with percentiles and consume rates
// filled in.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sample, len(s.buckets))
	var prev *int64
	for i, b := range s.buckets {
		out[i] = b.s
		if b.hist.TotalCount() > 0 {
			out[i].P50Ms = ms(b.hist.ValueAtQuantile(50))
			out[i].P90Ms = ms(b.hist.ValueAtQuantile(90))
			out[i].P99Ms = ms(b.hist.ValueAtQuantile(99))
			out[i].MaxMs = ms(b.hist.Max())
		}
		if b.lastOffset != nil {
			if prev != nil {
				d := max(*b.lastOffset-*prev, 0) // a restarted broker may move offsets back
				out[i].Consumed = &d
			}
			prev = b.lastOffset
		}
	}
	return out
}

// Percentiles of a latency distribution, milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func percentiles(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{Count: h.TotalCount(), P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())}
}

// Latency returns the gateway latency of every request and of the
// rejected ones (the fast path a spike mostly takes), and the time from
// admission to a seen outcome.
func (s *Sampler) Latency() (gateway, rejected, outcome Percentiles) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return percentiles(s.total), percentiles(s.rejected), percentiles(s.settle)
}

func ms(us int64) float64 { return float64(us) / 1000 }
