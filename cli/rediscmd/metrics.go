package rediscmd

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

// chartWidth is the columns a metric's chart spans; limitHeight the rows of
// the charts of metrics with a plan limit (memory, clients), so the limit's
// line has room above the bars.
const (
	chartWidth  = 48
	limitHeight = 4
)

// Metrics is `larder redis:metrics`.
func Metrics(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:metrics [NAME] -a APP [--since 1h|6h|1d|1w|30d] [--json]"
	return &cli.Command{
		Name:      "redis:metrics",
		Category:  "redis",
		Usage:     "chart an add-on's memory, CPU, clients, throughput and replication over time",
		UsageText: usage,
		Description: "The broker samples every node every 10 seconds (larder broker --metrics-interval)\n" +
			"and keeps 10-second points for 6 hours, 5-minute points for a week and hourly\n" +
			"points for 30 days. Each metric is charted per node, with the plan's limit\n" +
			"marked (┄) for memory and clients, and its latest value. --json prints the series.",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag(),
			&cli.StringFlag{Name: "since", Aliases: []string{"s"}, Value: "1h", Usage: "how far back: " + strings.Join(api.MetricRanges, ", ")}},
		Action: func(c *cli.Context) error {
			since := c.String("since")
			if !slices.Contains(api.MetricRanges, since) {
				return cmdkit.UsageError(fmt.Sprintf("invalid --since %q", since), "use one of "+strings.Join(api.MetricRanges, ", "))
			}
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			m, err := t.Client.Metrics(c.Context, t.App, t.Addon.Name, since)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, m)
			}
			return writeMetrics(s.Stdout, m)
		},
	}
}

// metricLabels are the charts' titles.
var metricLabels = map[string]string{
	api.MetricMemory: "Memory", api.MetricCPU: "CPU", api.MetricClients: "Clients", api.MetricOps: "Ops/s",
	api.MetricHitRatio: "Hit ratio", api.MetricEvictions: "Evictions/s", api.MetricExpired: "Expired/s",
	api.MetricReplLag: "Repl lag", api.MetricReplOffset: "Repl offset", api.MetricPersistOK: "Persistence",
}

// writeMetrics prints, per node, a chart of each metric with its latest value.
func writeMetrics(w io.Writer, m api.Metrics) error {
	title := fmt.Sprintf("%s metrics, last %s (%s steps)", m.Addon.Name, m.Since, time.Duration(m.Step)*time.Second)
	if err := ui.WriteHeader(w, title); err != nil {
		return err
	}
	if len(m.Nodes) == 0 {
		_, err := fmt.Fprintln(w, "No samples yet: the broker samples every node every 10 seconds (larder broker --metrics-interval).")
		return err
	}
	for i, n := range m.Nodes {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := strings.TrimSpace(n.Role + " " + n.Node)
		if n.Host != "" {
			head += " on " + n.Host
		}
		fmt.Fprintf(w, "%s (%d points)\n", head, len(n.Times))
		for _, ser := range n.Series {
			if err := writeSeries(w, n.Times, ser); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSeries prints one metric: a sparkline, or for a metric with a limit
// a taller chart with the limit's line, and the latest value.
func writeSeries(w io.Writer, times []int64, ser api.MetricSeries) error {
	// A short series is not stretched: one column per point, up to the width.
	cols := ui.Resample(times, ser.Values, min(chartWidth, len(times)))
	last := lastValue(ser.Values)
	latest := "n/a"
	if last != nil {
		latest = formatMetric(ser.Unit, *last)
	}
	label := fmt.Sprintf("%-12s", metricLabels[ser.Name])
	if ser.Limit == nil || *ser.Limit <= 0 {
		top := 0.0
		if ser.Unit == "ratio" {
			top = 1 // a ratio is charted against its whole range
		}
		_, err := fmt.Fprintf(w, "  %s %s  %s\n", label, ui.Sparkline(cols, top), latest)
		return err
	}
	limit := *ser.Limit
	rows := ui.Chart(cols, limitHeight, limit, limit)
	for r, row := range rows {
		side := ""
		switch r {
		case 0:
			side = "limit " + formatMetric(ser.Unit, limit)
		case len(rows) - 1:
			side = "now " + latest
			if last != nil {
				side += fmt.Sprintf(" (%.0f%% of the limit)", *last/limit*100)
			}
		}
		if r > 0 {
			label = strings.Repeat(" ", 12)
		}
		if _, err := fmt.Fprintf(w, "  %s │%s│ %s\n", label, row, side); err != nil {
			return err
		}
	}
	return nil
}

func lastValue(vs []*float64) *float64 {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i] != nil {
			return vs[i]
		}
	}
	return nil
}

// formatMetric shows a value in its unit.
func formatMetric(unit string, v float64) string {
	switch unit {
	case "bytes":
		return ui.HumanBytes(int64(v))
	case "cores":
		return fmt.Sprintf("%.1f%% of a core", v*100)
	case "ratio":
		return fmt.Sprintf("%.1f%%", v*100)
	case "clients":
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
