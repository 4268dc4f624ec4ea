package rediscmd

import (
	"strings"
	"testing"

	"larder/api"
)

func TestWriteMetrics(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	times := []int64{0, 10, 20, 30}
	m := api.Metrics{Addon: api.Ref{Name: "redis-a"}, Since: "1h", Step: 10, MemoryLimitBytes: 100, ClientsLimit: 20,
		Nodes: []api.NodeMetrics{{Node: "redis-a-1", Role: "primary", Host: "local", Times: times, Series: []api.MetricSeries{
			{Name: api.MetricMemory, Unit: "bytes", Limit: f(100), Values: []*float64{f(10), f(20), f(30), f(40)}},
			{Name: api.MetricHitRatio, Unit: "ratio", Values: []*float64{nil, f(0.5), f(1), nil}},
			{Name: api.MetricOps, Unit: "ops/s", Values: []*float64{f(0), f(0), f(0), f(0)}},
		}}}}
	var b strings.Builder
	if err := writeMetrics(&b, m); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{"=== redis-a metrics, last 1h (10s steps)", "primary redis-a-1 on local (4 points)",
		"limit 100 B", "now 40 B (40% of the limit)", "┄", "Hit ratio", "100.0%", "Ops/s", "0.0 ops/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if lines := strings.Count(out, "│"); lines != 2*limitHeight {
		t.Errorf("the memory chart has %d framed rows, want %d", lines/2, limitHeight)
	}
	var empty strings.Builder
	if writeMetrics(&empty, api.Metrics{Addon: api.Ref{Name: "redis-a"}, Since: "1h", Step: 10}); !strings.Contains(empty.String(), "No samples yet") {
		t.Errorf("no nodes: %q", empty.String())
	}
}
