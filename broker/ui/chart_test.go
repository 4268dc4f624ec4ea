package ui

import (
	"strings"
	"testing"

	"larder/api"
)

func TestNiceScale(t *testing.T) {
	const mb = 1024 * 1024
	for _, tc := range []struct {
		top            float64
		binary         bool
		step, scaleTop float64
	}{
		{0, false, 0.25, 1},
		{1, false, 0.25, 1},
		{7, false, 2, 8},
		{430, false, 200, 800},
		{20, false, 5, 20},
		{25 * mb, true, 10 * mb, 40 * mb},
		{900 * 1024, true, 250 * 1024, 1000 * 1024},
		{3000, true, 1024, 4096},
	} {
		step, top := niceScale(tc.top, tc.binary)
		if step != tc.step || top != tc.scaleTop {
			t.Errorf("niceScale(%g, %v) = %g, %g; want %g, %g", tc.top, tc.binary, step, top, tc.step, tc.scaleTop)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		unit string
		v    float64
		want string
	}{
		{"bytes", 10 * 1024 * 1024, "10 MB"},
		{"bytes", 512, "512 B"},
		{"ratio", 0.5, "50%"},
		{"cores", 0.018, "1.8%"},
		{"clients", 20, "20"},
		{"ops/s", 1500, "1.5k/s"},
		{"keys/s", 0, "0/s"},
	} {
		if got := formatValue(tc.unit, tc.v); got != tc.want {
			t.Errorf("formatValue(%q, %g) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
}

func f(v float64) *float64 { return &v }

// TestRenderChart: every known value is a point, a gap splits the line,
// the plan limit is drawn, and an empty series is an empty frame.
func TestRenderChart(t *testing.T) {
	m := api.Metrics{Step: 10, Nodes: []api.NodeMetrics{{
		Node: "n1", Role: "primary", Times: []int64{100, 110, 120, 130},
		Series: []api.MetricSeries{{Name: api.MetricMemory, Unit: "bytes", Limit: f(4096),
			Values: []*float64{f(1000), nil, f(2000), f(3000)}}},
	}}}
	svg, points := renderChart(m, api.MetricMemory, "Memory")
	if points != 3 {
		t.Errorf("points %d, want 3", points)
	}
	s := string(svg)
	for _, want := range []string{`data-points="3"`, `class="limit"`, "plan limit 4 KB", `<circle class="dot line-0"`, `<polyline class="line line-0"`} {
		if !strings.Contains(s, want) {
			t.Errorf("chart lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "<polyline"); n != 2 {
		t.Errorf("%d lines, want 2 (split at the gap)", n)
	}
	if strings.Contains(s, "style=") || strings.Contains(s, "<script") {
		t.Error("the chart has inline style or script (the CSP forbids it)")
	}
	empty, n := renderChart(api.Metrics{}, api.MetricMemory, "Memory")
	if n != 0 || !strings.Contains(string(empty), `data-points="0"`) {
		t.Errorf("empty chart: %d points, %s", n, empty)
	}
}
