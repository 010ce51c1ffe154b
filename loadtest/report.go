package loadtest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"
)

// Report file names, inside the report directory.
const (
	ReportHTML = "report.html"
	ReportJSON = "samples.json"
	ReportCSV  = "samples.csv"
	ReportPNG  = "throughput.png"
)

// WriteReport writes the HTML report, the samples as JSON and CSV, and the
// main chart as PNG into dir (created if missing).
func WriteReport(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	var html, js, csvb bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		return err
	}
	if err := WriteJSON(&js, r); err != nil {
		return err
	}
	if err := WriteCSV(&csvb, r.Samples); err != nil {
		return err
	}
	png, err := MainChartPNG(r)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{ReportHTML: html.Bytes(), ReportJSON: js.Bytes(), ReportCSV: csvb.Bytes(), ReportPNG: png} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// WriteJSON writes the whole result, samples included.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("samples as JSON: %w", err)
	}
	return nil
}

// csvHeader names the CSV columns; an unread gauge is an empty cell.
var csvHeader = []string{"t", "phase", "target", "sent", "admitted", "rejected", "unavailable", "errors",
	"p50_ms", "p90_ms", "p99_ms", "max_ms", "ordered", "refused", "backlog", "consumed", "stock"}

// WriteCSV writes one row per second.
func WriteCSV(w io.Writer, samples []Sample) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	opt := func(v *int64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatInt(*v, 10)
	}
	for _, s := range samples {
		_ = cw.Write([]string{strconv.Itoa(s.Second), s.Phase, f(s.Target), strconv.Itoa(s.Sent), strconv.Itoa(s.Admitted),
			strconv.Itoa(s.Rejected), strconv.Itoa(s.Unavailable), strconv.Itoa(s.Errors), f(s.P50Ms), f(s.P90Ms), f(s.P99Ms), f(s.MaxMs),
			strconv.Itoa(s.Ordered), strconv.Itoa(s.Refused), opt(s.Backlog), opt(s.Consumed), opt(s.Stock)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("samples as CSV: %w", err)
	}
	return nil
}

// peaks sums up what shaving did: the highest second offered, admitted
// and consumed, and the deepest backlog.
type peaks struct {
	Offered, Admitted, Processed int
	Consumed, Backlog            int64
}

func findPeaks(samples []Sample) peaks {
	var p peaks
	for _, s := range samples {
		p.Offered = max(p.Offered, s.Sent)
		p.Admitted = max(p.Admitted, s.Admitted)
		p.Processed = max(p.Processed, s.Processed())
		if s.Consumed != nil {
			p.Consumed = max(p.Consumed, *s.Consumed)
		}
		if s.Backlog != nil {
			p.Backlog = max(p.Backlog, *s.Backlog)
		}
	}
	return p
}

type htmlData struct {
	R       *Result
	Charts  []template.HTML
	Peaks   peaks
	Passed  bool
	Stats   string
	Elapsed string
}

// WriteHTML writes the self-contained report: inline SVG charts, the
// verdict table, the figures; no scripts, no external resources.
func WriteHTML(w io.Writer, r *Result) error {
	d := htmlData{R: r, Peaks: findPeaks(r.Samples), Passed: r.Verdict.Passed(), Elapsed: r.Duration.Round(time.Second).String()}
	for _, c := range charts(r) {
		svg, err := c.inlineSVG()
		if err != nil {
			return err
		}
		d.Charts = append(d.Charts, template.HTML(svg)) // our own renderer's output
	}
	if r.Stats != nil {
		b, _ := json.MarshalIndent(r.Stats, "", "  ")
		d.Stats = string(b)
	}
	if err := reportTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("report HTML: %w", err)
	}
	return nil
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Surge seckill load test — {{.R.Activity}}</title>
<style>
body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}.ok{color:#1a7f1a;font-weight:bold}.fail{color:#c00;font-weight:bold}
figure{margin:1.5em 0}svg{max-width:100%;height:auto}pre{background:#f6f6f6;padding:1em;overflow:auto}
</style></head><body>
<h1>Seckill load test: {{.R.Activity}}</h1>
<p>Verdict: {{if .Passed}}<span class="ok">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}.
Started {{.R.Started.UTC.Format "2006-01-02 15:04:05 MST"}}, ran {{.Elapsed}}.
Profile: {{.R.Profile}}. {{.R.Users}} distinct users, stock {{.R.Stock}}.</p>

<h2>Reconciliation</h2>
<table><tr><th>check</th><th>want</th><th>got</th><th></th></tr>
{{range .R.Verdict.Checks}}<tr><td>{{.Name}}</td><td>{{.Want}}</td><td>{{.Got}}</td><td>{{if .OK}}<span class="ok">ok</span>{{else}}<span class="fail">FAIL</span>{{end}}</td></tr>
{{end}}</table>
{{with .R.Verdict.Counts.Reasons}}<p>Rejection reasons: {{range $k, $v := .}}{{$k}} {{$v}}; {{end}}</p>{{end}}

<h2>Peak shaving</h2>
<table>
<tr><th></th><th>requests</th><th>peak per second</th></tr>
<tr><td>offered (sent)</td><td>{{.R.Totals.Sent}}</td><td>{{.Peaks.Offered}}</td></tr>
<tr><td>admitted (202)</td><td>{{.R.Totals.Admitted}}</td><td>{{.Peaks.Admitted}}</td></tr>
<tr><td>rejected (429)</td><td>{{.R.Totals.Rejected}}</td><td></td></tr>
<tr><td>unavailable (503)</td><td>{{.R.Totals.Unavailable}}</td><td></td></tr>
<tr><td>errors</td><td>{{.R.Totals.Errors}}</td><td></td></tr>
<tr><td>consumed by the order service</td><td></td><td>{{.Peaks.Consumed}}</td></tr>
<tr><td>outcomes seen</td><td>{{.R.Verdict.Counts.Ordered}} ordered, {{.R.Verdict.Counts.Rejected}} rejected</td><td>{{.Peaks.Processed}}</td></tr>
<tr><td>deepest backlog</td><td></td><td>{{.Peaks.Backlog}}</td></tr>
</table>
{{range .Charts}}<figure>{{.}}</figure>
{{end}}
<h2>Latency</h2>
<table><tr><th></th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>
{{with .R.Gateway}}<tr><td>gateway answer (202, 429, …)</td><td>{{.Count}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td></tr>{{end}}
{{with .R.Rejected}}<tr><td>gateway answer, rejections (429) only</td><td>{{.Count}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td></tr>{{end}}
{{with .R.Outcome}}<tr><td>admission to outcome seen</td><td>{{.Count}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td></tr>{{end}}
</table>
<p>The gateway answers at once; the queue is where a request waits. "Admission to outcome seen"
is that wait plus the status polling's delay: it is what peak shaving costs.</p>
{{with .R.Notes}}<h2>Notes</h2><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with .R.FirstErrs}}<h2>First errors</h2><ul>{{range .}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{with .Stats}}<h2>Gateway counters at the end</h2><pre>{{.}}</pre>{{end}}
<p>Raw samples: <a href="samples.json">samples.json</a>, <a href="samples.csv">samples.csv</a>.</p>
</body></html>
`))

// WriteSummary prints the figures and the verdict table as text.
func WriteSummary(w io.Writer, r *Result) error {
	p := findPeaks(r.Samples)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "profile\t%s\n", r.Profile)
	fmt.Fprintf(tw, "sent\t%d (peak %d/s)\n", r.Totals.Sent, p.Offered)
	fmt.Fprintf(tw, "admitted 202\t%d (peak %d/s)\n", r.Totals.Admitted, p.Admitted)
	fmt.Fprintf(tw, "rejected 429 / 503 / errors\t%d / %d / %d\n", r.Totals.Rejected, r.Totals.Unavailable, r.Totals.Errors)
	fmt.Fprintf(tw, "consumed peak\t%d/s, deepest backlog %d\n", p.Consumed, p.Backlog)
	fmt.Fprintf(tw, "gateway latency\tp50 %.1f ms, p99 %.1f ms, max %.1f ms\n", r.Gateway.P50, r.Gateway.P99, r.Gateway.Max)
	fmt.Fprintf(tw, "  of a rejection (429)\tp50 %.1f ms, p99 %.1f ms, max %.1f ms\n", r.Rejected.P50, r.Rejected.P99, r.Rejected.Max)
	fmt.Fprintf(tw, "admission to outcome\tp50 %.0f ms, p99 %.0f ms, max %.0f ms\n", r.Outcome.P50, r.Outcome.P99, r.Outcome.Max)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CHECK\tWANT\tGOT\tRESULT")
	for _, c := range r.Verdict.Checks {
		res := "ok"
		if !c.OK {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Want, c.Got, res)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\n", n)
	}
	return tw.Flush()
}
