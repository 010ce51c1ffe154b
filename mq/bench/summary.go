package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Summary is a run's final figures, also written as JSON with -json.
type Summary struct {
	Client     string  `json:"client"`
	Mode       string  `json:"mode"`
	Messages   int64   `json:"messages"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	TPS        float64 `json:"tps"`
	AvgMicros  float64 `json:"avgMicros"`
	P50Micros  int64   `json:"p50Micros"`
	P99Micros  int64   `json:"p99Micros"`
	P999Micros int64   `json:"p999Micros"`
	MaxMicros  int64   `json:"maxMicros"`
	FlushMode  string  `json:"brokerFlushDiskType"`
	// FirstError is the first failure, when there were any.
	FirstError string `json:"firstError,omitempty"`
}

// Recorder collects send latencies (µs) and counts from many goroutines;
// every benchmark command of the project reports through it, so their
// figures are taken and printed the same way.
type Recorder struct {
	mu   sync.Mutex
	h    *hdrhistogram.Histogram // guarded by mu
	n    atomic.Int64
	errs atomic.Int64
	// first is the first error given to failed.
	first atomic.Pointer[error]
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{h: hdrhistogram.New(1, 60_000_000, 3)} }

// Record counts n messages that took d, and returns the count so far.
func (r *Recorder) Record(d time.Duration, n int) int64 {
	r.mu.Lock()
	r.h.RecordValues(max(d.Microseconds(), 1), int64(n))
	r.mu.Unlock()
	return r.n.Add(int64(n))
}

// Add counts n messages whose latency is not measured (a consumer of a
// stored backlog), and returns the count so far.
func (r *Recorder) Add(n int) int64 { return r.n.Add(int64(n)) }

// Failed counts a failed send and keeps the first error.
func (r *Recorder) Failed(err error) {
	r.errs.Add(1)
	r.first.CompareAndSwap(nil, &err)
}

// Count returns the messages recorded so far.
func (r *Recorder) Count() int64 { return r.n.Load() }

// Errors returns the failures counted so far.
func (r *Recorder) Errors() int64 { return r.errs.Load() }

// Summary returns the figures of a run that lasted elapsed.
func (r *Recorder) Summary(elapsed time.Duration) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n.Load()
	s := Summary{Messages: n, Errors: r.errs.Load(), Seconds: elapsed.Seconds(), TPS: float64(n) / elapsed.Seconds(),
		AvgMicros: r.h.Mean(), P50Micros: r.h.ValueAtQuantile(50), P99Micros: r.h.ValueAtQuantile(99),
		P999Micros: r.h.ValueAtQuantile(99.9), MaxMicros: r.h.Max()}
	if err := r.first.Load(); err != nil {
		s.FirstError = (*err).Error()
	}
	return s
}

// Report prints s as the summary line (and the first error), and writes
// it as JSON to jsonPath unless that is empty.
func (s Summary) Report(w io.Writer, jsonPath string) error {
	fmt.Fprintf(w, "Summary: %d msgs in %.1fs, TPS %.0f, errors %d, latency avg %.0fµs p50 %dµs p99 %dµs p999 %dµs max %dµs\n",
		s.Messages, s.Seconds, s.TPS, s.Errors, s.AvgMicros, s.P50Micros, s.P99Micros, s.P999Micros, s.MaxMicros)
	if s.FirstError != "" {
		fmt.Fprintf(w, "First error: %s\n", s.FirstError)
	}
	if jsonPath == "" {
		return nil
	}
	b, _ := json.MarshalIndent(s, "", "  ") // a struct of numbers and strings always encodes
	if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
		return fmt.Errorf("write the summary: %w", err)
	}
	return nil
}
