package loadtest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syntheticResult is a small run: a spike shaved to 50/s, a backlog that
// grows and drains, one failed check.
func syntheticResult(t *testing.T) *Result {
	t.Helper()
	p, err := SpikeProfile(20, 10, 2*time.Second, 2*time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewSampler(start, p)
	var offset, backlog int64
	for sec := range 8 {
		rate := 0
		if sec < 6 {
			rate = int(p.Hits(time.Duration(sec+1)*time.Second) - p.Hits(time.Duration(sec)*time.Second))
		}
		for i := range rate {
			code := 202
			if i >= 50 {
				code = 429
			} else {
				backlog++
			}
			s.RecordRequest(start.Add(time.Duration(sec)*time.Second+time.Duration(i)*time.Millisecond), code, time.Duration(1+i%7)*time.Millisecond)
		}
		done := min(backlog, 30)
		backlog -= done
		offset += done
		s.RecordGauge(start.Add(time.Duration(sec)*time.Second+500*time.Millisecond), Gauge{Backlog: ptr(backlog), ConsumerOffset: ptr(offset), Stock: ptr(max(100-offset, 0))})
		for range done {
			s.RecordOutcome(start.Add(time.Duration(sec)*time.Second+600*time.Millisecond), start, StatusOrdered)
		}
	}
	r := &Result{Activity: "FLASH-T", Profile: p, Users: 100, Stock: 100, Started: start, Duration: 8 * time.Second,
		Samples: s.Samples(), Notes: []string{"synthetic <run>"}}
	r.Gateway, r.Rejected, r.Outcome = s.Latency()
	r.Verdict = Reconcile(ledger(1, ptr(-1), []string{"a", "b"}, []RequestStatus{ordered("o1"), ordered("o2")}), ReconcileOptions{})
	return r
}

func TestReportFiles(t *testing.T) {
	r := syntheticResult(t)
	dir := t.TempDir()
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	if n := strings.Count(page, "<svg"); n != 3 {
		t.Errorf("report has %d inline SVG charts, want 3", n)
	}
	for _, want := range []string{"Offered, admitted and processed requests", "Queue backlog and stock", "Gateway latency",
		"sold ≤ stock", "stock never negative", "FAIL", "synthetic &lt;run&gt;", "<path", "<table"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<?xml", "<!DOCTYPE svg", `src="http`, `href="http`, "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("report is not self-contained: has %q", bad)
		}
	}

	f, err := os.Open(filepath.Join(dir, ReportPNG))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("PNG is %v, too small", b)
	}

	raw, err := os.ReadFile(filepath.Join(dir, ReportCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(r.Samples)+1 || rows[0][0] != "t" || rows[4][1] != "spike" {
		t.Errorf("CSV has %d rows (want %d), header %v, row 4 %v", len(rows), len(r.Samples)+1, rows[0], rows[4])
	}

	raw, err = os.ReadFile(filepath.Join(dir, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Samples) != len(r.Samples) || back.Samples[3].Admitted != r.Samples[3].Admitted || back.Verdict.Passed() {
		t.Errorf("JSON round trip lost data: %d samples, verdict passed %v", len(back.Samples), back.Verdict.Passed())
	}
}

func TestSummaryText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSummary(&buf, syntheticResult(t)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"sold ≤ stock", "FAIL", "admitted 202", "peak 50/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
