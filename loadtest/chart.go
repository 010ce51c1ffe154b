package loadtest

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A line of a chart: one value per second; nil values are left out.
type line struct {
	name   string
	values []*float64
	color  color.Color
	dashed bool
}

// chart is one figure of the report.
type chart struct {
	title, ylabel string
	lines         []line
	// shade marks a time window (the spike), in seconds; zero = none.
	shadeFrom, shadeTo float64
}

var (
	colorTarget   = color.RGBA{150, 150, 150, 255}
	colorSent     = color.RGBA{31, 119, 180, 255}
	colorAdmitted = color.RGBA{44, 160, 44, 255}
	colorRejected = color.RGBA{214, 39, 40, 255}
	colorDone     = color.RGBA{148, 103, 189, 255}
	colorConsumed = color.RGBA{255, 127, 14, 255}
	colorStock    = color.RGBA{140, 86, 75, 255}
	colorShade    = color.NRGBA{255, 200, 80, 70}
)

// plot builds the gonum plot of the chart and its legend, which is drawn
// beside the plot rather than over the lines.
func (c chart) plot() (*plot.Plot, plot.Legend, error) {
	p := plot.New()
	legend := plot.NewLegend()
	legend.Top = true
	p.Title.Text = c.title
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = c.ylabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	ymax := 1.0
	var plotted []plot.Plotter
	for _, l := range c.lines {
		var xys plotter.XYs
		for i, v := range l.values {
			if v != nil {
				xys = append(xys, plotter.XY{X: float64(i) + 0.5, Y: *v})
				ymax = max(ymax, *v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		ln, err := plotter.NewLine(xys)
		if err != nil {
			return nil, legend, fmt.Errorf("chart %q, line %q: %w", c.title, l.name, err)
		}
		ln.Color = l.color
		ln.Width = vg.Points(1.5)
		if l.dashed {
			ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		plotted = append(plotted, ln)
		legend.Add(l.name, ln)
	}
	if c.shadeTo > c.shadeFrom {
		poly, err := plotter.NewPolygon(plotter.XYs{{X: c.shadeFrom, Y: 0}, {X: c.shadeTo, Y: 0}, {X: c.shadeTo, Y: ymax * 1.05}, {X: c.shadeFrom, Y: ymax * 1.05}})
		if err != nil {
			return nil, legend, fmt.Errorf("chart %q: spike window: %w", c.title, err)
		}
		poly.Color = colorShade
		poly.LineStyle.Width = 0
		p.Add(poly)
		legend.Add("spike", poly)
	}
	p.Add(plotted...)
	p.Y.Max = ymax * 1.1
	return p, legend, nil
}

// Chart sizes in the report; the legend takes the right-hand part.
const (
	chartWidth  = 26 * vg.Centimeter
	chartHeight = 10 * vg.Centimeter
	legendWidth = 7 * vg.Centimeter
)

// render draws the chart as "svg" or "png".
func (c chart) render(format string) ([]byte, error) {
	p, legend, err := c.plot()
	if err != nil {
		return nil, err
	}
	canvas, err := draw.NewFormattedCanvas(chartWidth, chartHeight, format)
	if err != nil {
		return nil, fmt.Errorf("chart %q as %s: %w", c.title, format, err)
	}
	dc := draw.New(canvas)
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legend.Draw(draw.Crop(dc, chartWidth-legendWidth+vg.Points(8), 0, 0, -vg.Points(16)))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("chart %q as %s: %w", c.title, format, err)
	}
	return buf.Bytes(), nil
}

// inlineSVG renders the chart as an <svg> element to put in HTML: the XML
// prelude and doctype a standalone file needs are dropped.
func (c chart) inlineSVG() ([]byte, error) {
	b, err := c.render("svg")
	if err != nil {
		return nil, err
	}
	if i := bytes.Index(b, []byte("<svg")); i >= 0 {
		b = b[i:]
	}
	return b, nil
}

// series picks one value per sample.
func series(samples []Sample, f func(Sample) *float64) []*float64 {
	out := make([]*float64, len(samples))
	for i, s := range samples {
		out[i] = f(s)
	}
	return out
}

func num[T int | int64 | float64](v T) *float64 { f := float64(v); return &f }

func optional(v *int64) *float64 {
	if v == nil {
		return nil
	}
	return num(*v)
}

// charts are the report's figures; the first is the main one.
func charts(r *Result) []chart {
	s := r.Samples
	from, to, _ := r.Profile.Window("spike")
	shade := func(c chart) chart { c.shadeFrom, c.shadeTo = from.Seconds(), to.Seconds(); return c }
	return []chart{
		shade(chart{title: "Offered, admitted and processed requests", ylabel: "requests per second", lines: []line{
			{name: "target", values: series(s, func(x Sample) *float64 { return num(x.Target) }), color: colorTarget, dashed: true},
			{name: "offered (sent)", values: series(s, func(x Sample) *float64 { return num(x.Sent) }), color: colorSent},
			{name: "admitted (202)", values: series(s, func(x Sample) *float64 { return num(x.Admitted) }), color: colorAdmitted},
			{name: "rejected (429)", values: series(s, func(x Sample) *float64 { return num(x.Rejected) }), color: colorRejected},
			{name: "consumed by the order service", values: series(s, func(x Sample) *float64 { return optional(x.Consumed) }), color: colorConsumed},
			{name: "outcomes seen", values: series(s, func(x Sample) *float64 { return num(x.Processed()) }), color: colorDone, dashed: true},
		}}),
		shade(chart{title: "Queue backlog and stock", ylabel: "messages / items", lines: []line{
			{name: "backlog (consumer lag on SECKILL_REQUESTS)", values: series(s, func(x Sample) *float64 { return optional(x.Backlog) }), color: colorConsumed},
			{name: "stock left", values: series(s, func(x Sample) *float64 { return optional(x.Stock) }), color: colorStock},
		}}),
		shade(chart{title: "Gateway latency of the requests sent each second", ylabel: "milliseconds", lines: []line{
			{name: "p50", values: series(s, func(x Sample) *float64 { return latencyOf(x, x.P50Ms) }), color: colorAdmitted},
			{name: "p90", values: series(s, func(x Sample) *float64 { return latencyOf(x, x.P90Ms) }), color: colorSent},
			{name: "p99", values: series(s, func(x Sample) *float64 { return latencyOf(x, x.P99Ms) }), color: colorConsumed},
			{name: "max", values: series(s, func(x Sample) *float64 { return latencyOf(x, x.MaxMs) }), color: colorRejected, dashed: true},
		}}),
	}
}

// latencyOf leaves out seconds in which no request left.
func latencyOf(s Sample, v float64) *float64 {
	if s.Sent == 0 {
		return nil
	}
	return num(v)
}

// MainChartPNG renders the main chart (offered vs admitted vs processed) as
// a PNG, for a README.
func MainChartPNG(r *Result) ([]byte, error) { return charts(r)[0].render("png") }
