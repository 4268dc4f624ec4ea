package ui

// Charts as server-rendered SVG: no chart library and no script, so the
// page's CSP stays strict. Each chart is one metric with a line per node
// (the primary first), its plan limit marked when it has one.

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"larder/api"
)

// chartView is one chart on the add-on page.
type chartView struct {
	Name   string // the metric (api.Metric*)
	Title  string
	SVG    template.HTML
	Points int // points drawn, over all lines
}

// chartSpec is a metric the add-on page charts.
type chartSpec struct {
	name, title string
	haOnly      bool
}

var chartSpecs = []chartSpec{
	{api.MetricMemory, "Memory", false},
	{api.MetricClients, "Connections", false},
	{api.MetricOps, "Commands", false},
	{api.MetricCPU, "CPU", false},
	{api.MetricHitRatio, "Hit ratio", false},
	{api.MetricEvictions, "Evictions", false},
	{api.MetricExpired, "Expired keys", false},
	{api.MetricReplLag, "Replication lag", true},
}

// The chart's geometry, in SVG units (it scales to its box).
const (
	chartW, chartH = 420.0, 180.0
	padL, padR     = 60.0, 10.0
	padT, padB     = 16.0, 24.0
	yTicks         = 4
)

// charts renders m's charts; ha adds the replication ones.
func charts(m api.Metrics, ha bool) []chartView {
	var out []chartView
	for _, s := range chartSpecs {
		if s.haOnly && !ha {
			continue
		}
		svg, n := renderChart(m, s.name, s.title)
		out = append(out, chartView{Name: s.name, Title: s.title, SVG: svg, Points: n})
	}
	return out
}

// renderChart draws metric of every node of m.
func renderChart(m api.Metrics, metric, title string) (template.HTML, int) {
	var lo, hi int64 = math.MaxInt64, math.MinInt64
	top, unit := 0.0, ""
	var limit *float64
	for _, n := range m.Nodes {
		s := n.Metric(metric)
		if s == nil || len(n.Times) == 0 {
			continue
		}
		unit, limit = s.Unit, s.Limit
		lo, hi = min(lo, n.Times[0]), max(hi, n.Times[len(n.Times)-1])
		for _, v := range s.Values {
			if v != nil {
				top = max(top, *v)
			}
		}
	}
	if limit != nil {
		top = max(top, *limit)
	}
	if unit == "ratio" {
		top = 1
	}
	step, top := niceScale(top, unit == "bytes")
	if lo > hi { // no points: an empty frame over the range
		hi = time.Now().Unix()
		lo = hi - 3600
	}
	if lo == hi {
		lo = hi - max(m.Step, 1)
	}
	x := func(t int64) float64 { return padL + (chartW-padL-padR)*float64(t-lo)/float64(hi-lo) }
	y := func(v float64) float64 { return chartH - padB - (chartH-padT-padB)*v/top }

	var b strings.Builder // the chart's body; the frame, which counts its points, goes round it
	for i := 0; i <= yTicks; i++ {
		v := step * float64(i)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, y(v), y(v))
		fmt.Fprintf(&b, `<text class="axis" x="%g" y="%.1f" text-anchor="end">%s</text>`, padL-6, y(v)+4, template.HTMLEscapeString(formatValue(unit, v)))
	}
	for i, t := range []int64{lo, (lo + hi) / 2, hi} {
		anchor := []string{"start", "middle", "end"}[i]
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%g" text-anchor="%s">%s</text>`, x(t), chartH-6, anchor, timeLabel(t, hi-lo))
	}
	points := 0
	for i, n := range m.Nodes {
		s := n.Metric(metric)
		if s == nil {
			continue
		}
		for _, run := range runs(n.Times, s.Values) {
			var pts []string
			for _, p := range run {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.t), y(p.v)))
			}
			points += len(run)
			if i == 0 && len(run) > 1 && unit != "ratio" {
				fmt.Fprintf(&b, `<polygon class="area" points="%.1f,%.1f %s %.1f,%.1f"/>`,
					x(run[0].t), y(0), strings.Join(pts, " "), x(run[len(run)-1].t), y(0))
			}
			fmt.Fprintf(&b, `<polyline class="line line-%d" points="%s"/>`, min(i, 3), strings.Join(pts, " "))
			if len(run) == 1 {
				fmt.Fprintf(&b, `<circle class="dot line-%d" cx="%.1f" cy="%.1f" r="2.5"/>`, min(i, 3), x(run[0].t), y(run[0].v))
			}
		}
	}
	if limit != nil && *limit > 0 {
		ly := y(*limit)
		fmt.Fprintf(&b, `<line class="limit" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, ly, ly)
		fmt.Fprintf(&b, `<text class="limit-label" x="%g" y="%.1f" text-anchor="end">plan limit %s</text>`,
			chartW-padR-4, ly+13, template.HTMLEscapeString(formatValue(unit, *limit)))
	}
	svg := fmt.Sprintf(`<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s" data-points="%d" xmlns="http://www.w3.org/2000/svg">%s</svg>`,
		chartW, chartH, template.HTMLEscapeString(title), points, b.String())
	return template.HTML(svg), points
}

type point struct {
	t int64
	v float64
}

// runs splits a series at its unknown values: a gap is drawn as a gap.
func runs(times []int64, values []*float64) [][]point {
	var out [][]point
	var cur []point
	for i, v := range values {
		if i >= len(times) {
			break
		}
		if v == nil {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, point{times[i], *v})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// niceScale picks a tick step of 1, 2, 2.5 or 5 × 10^n so that yTicks
// ticks cover top, and the top they reach; binary counts (bytes) take
// their steps in KB, MB or GB so the labels stay round.
func niceScale(top float64, binary bool) (step, scaleTop float64) {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		return 0.25, 1
	}
	unit := 1.0
	for binary && top/unit >= 1024 {
		unit *= 1024
	}
	raw := top / unit / yTicks
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag * unit
			break
		}
	}
	return step, step * yTicks
}

// formatValue shows a value in its unit, short enough for an axis.
func formatValue(unit string, v float64) string {
	switch unit {
	case "bytes":
		return humanBytes(int64(math.Round(v)))
	case "ratio":
		return fmt.Sprintf("%.0f%%", v*100)
	case "cores":
		return trimZero(fmt.Sprintf("%.1f", v*100)) + "%"
	case "clients":
		return trimZero(fmt.Sprintf("%.1f", v))
	}
	suffix := ""
	if unit != "" {
		suffix = "/s"
	}
	switch {
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.1f", v/1e6)) + "M" + suffix
	case v >= 1e3:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k" + suffix
	}
	return trimZero(fmt.Sprintf("%.1f", v)) + suffix
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// timeLabel shows a chart time (UTC): seconds for a span of minutes, the
// minute within two days, the day beyond.
func timeLabel(t, span int64) string {
	tt := time.Unix(t, 0).UTC()
	switch {
	case span > 2*86400:
		return tt.Format("Jan 2")
	case span < 600:
		return tt.Format("15:04:05")
	}
	return tt.Format("15:04")
}

// latestRow is one node's latest figures, as the add-on page lists them.
type latestRow struct {
	Node, Role, Host string
	Values           []latestValue
}

type latestValue struct{ Title, Value string }

// latest reads each node's last known value of every metric.
func latest(m api.Metrics) []latestRow {
	var out []latestRow
	for _, n := range m.Nodes {
		row := latestRow{Node: n.Node, Role: n.Role, Host: n.Host}
		for _, s := range n.Series {
			for i := len(s.Values) - 1; i >= 0; i-- {
				if v := s.Values[i]; v != nil {
					text := formatValue(s.Unit, *v)
					if s.Limit != nil && *s.Limit > 0 {
						text += " of " + formatValue(s.Unit, *s.Limit)
					}
					row.Values = append(row.Values, latestValue{metricTitle(s.Name), text})
					break
				}
			}
		}
		out = append(out, row)
	}
	return out
}

// metricTitle names a metric for people.
func metricTitle(name string) string {
	for _, s := range chartSpecs {
		if s.name == name {
			return s.title
		}
	}
	switch name {
	case api.MetricReplOffset:
		return "Replication offset"
	case api.MetricPersistOK:
		return "Persistence ok"
	}
	return name
}
