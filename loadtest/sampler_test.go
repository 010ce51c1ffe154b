package loadtest

import (
	"testing"
	"time"
)

func ptr(v int64) *int64 { return &v }

func TestSamplerBuckets(t *testing.T) {
	p, _ := SpikeProfile(10, 10, time.Second, time.Second, time.Second)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewSampler(start, p)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }

	s.RecordRequest(at(100), 202, 2*time.Millisecond)
	s.RecordRequest(at(200), 202, 4*time.Millisecond)
	s.RecordRequest(at(900), 429, 1*time.Millisecond)
	s.RecordRequest(at(1100), 503, 1*time.Millisecond)
	s.RecordRequest(at(1200), 0, 10*time.Second) // transport failure
	s.RecordRequest(at(1300), 500, 1*time.Millisecond)
	s.RecordOutcome(at(2500), at(150), StatusOrdered)
	s.RecordOutcome(at(2600), at(250), StatusRejected)
	s.RecordGauge(at(50), Gauge{Backlog: ptr(0), ConsumerOffset: ptr(100), Stock: ptr(10)})
	s.RecordGauge(at(1050), Gauge{Backlog: ptr(7), ConsumerOffset: ptr(130), Stock: ptr(9)})
	s.RecordGauge(at(2050), Gauge{Backlog: ptr(2)}) // offsets unread this second
	s.RecordGauge(at(3050), Gauge{ConsumerOffset: ptr(125)})

	got := s.Samples()
	if len(got) != 4 {
		t.Fatalf("%d samples, want 4", len(got))
	}
	s0, s1, s2, s3 := got[0], got[1], got[2], got[3]
	if s0.Sent != 3 || s0.Admitted != 2 || s0.Rejected != 1 || s0.Target != 10 || s0.Phase != "baseline" {
		t.Errorf("second 0 = %+v", s0)
	}
	if s1.Sent != 3 || s1.Unavailable != 1 || s1.Errors != 2 || s1.Target != 100 || s1.Phase != "spike" {
		t.Errorf("second 1 = %+v", s1)
	}
	if s0.P50Ms < 1.9 || s0.P50Ms > 2.1 || s0.MaxMs < 3.9 || s0.MaxMs > 4.1 {
		t.Errorf("second 0 latency p50 %v max %v, want about 2 and 4 ms", s0.P50Ms, s0.MaxMs)
	}
	if s2.Ordered != 1 || s2.Refused != 1 || s2.Processed() != 2 {
		t.Errorf("second 2 outcomes = %+v", s2)
	}
	if s0.Consumed != nil {
		t.Errorf("second 0 consumed = %v, want unknown (no earlier reading)", *s0.Consumed)
	}
	if s1.Consumed == nil || *s1.Consumed != 30 {
		t.Errorf("second 1 consumed = %v, want 30", s1.Consumed)
	}
	if s2.Consumed != nil || *s2.Backlog != 2 {
		t.Errorf("second 2 = %+v, want backlog 2 and consumed unknown", s2)
	}
	if s3.Consumed == nil || *s3.Consumed != 0 {
		t.Errorf("second 3 consumed = %v, want 0 (offsets went back after a restart)", s3.Consumed)
	}
	if s3.Sent != 0 || s3.P99Ms != 0 || s3.Phase != PhaseSettle {
		t.Errorf("second 3 = %+v", s3)
	}
	gw, rej, out := s.Latency()
	if gw.Count != 6 || gw.Max < 9999 {
		t.Errorf("gateway latency = %+v", gw)
	}
	if rej.Count != 1 || rej.Max < 0.99 || rej.Max > 1.01 {
		t.Errorf("rejection latency = %+v, want the one 1 ms 429", rej)
	}
	if out.Count != 2 || out.P50 < 2340 || out.P50 > 2360 {
		t.Errorf("outcome latency = %+v, want 2 with p50 ≈ 2350 ms", out)
	}
}

func TestClassify(t *testing.T) {
	for code, want := range map[int]string{202: ClassAdmitted, 429: ClassRejected, 503: ClassUnavailable, 0: ClassError, 200: ClassError, 500: ClassError} {
		if got := Classify(code); got != want {
			t.Errorf("Classify(%d) = %s, want %s", code, got, want)
		}
	}
}
