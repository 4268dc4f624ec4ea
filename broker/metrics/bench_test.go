package metrics_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/internal/testkit"
)

// benchNodes is how many real nodes a round samples in the benchmark.
const benchNodes = 8

// BenchmarkSampleRound measures what sampling costs per node, in CPU time:
// the broker's (this process: listing, reading INFO, CLIENT LIST and
// CONFIG, folding, storing) and the nodes' own (answering those), per node
// and sample. core%@1000x10s projects both onto 1 000 nodes sampled every
// 10 s, as a share of one core: the target is under 5.
func BenchmarkSampleRound(b *testing.B) {
	br := brokertest.New(b, testkit.Metrics, func(c *broker.Config) { c.Metrics.Disabled = true })
	ctx := context.Background()
	if _, err := br.Apps.CreateApp(ctx, api.AppCreate{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	var pids []int
	for range benchNodes {
		_, n := provisioned(b, br, "bench")
		pids = append(pids, n.PID)
	}
	nodesCPU := func() (d time.Duration) {
		for _, pid := range pids {
			d += cpuOf(pid)
		}
		return d
	}
	if err := br.Metrics.Round(ctx); err != nil { // primes the rates
		b.Fatal(err)
	}
	self, nodes := testkit.CPUTime(), nodesCPU()
	b.ResetTimer()
	for b.Loop() {
		if err := br.Metrics.Round(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	samples := float64(b.N * benchNodes)
	brokerUS := float64((testkit.CPUTime() - self).Microseconds()) / samples
	nodeUS := float64((nodesCPU() - nodes).Microseconds()) / samples
	b.ReportMetric(brokerUS, "broker-cpu-us/node")
	b.ReportMetric(nodeUS, "node-cpu-us/node")
	// 1 000 nodes every 10 s: 100 samples a second.
	b.ReportMetric((brokerUS+nodeUS)*100/1e6*100, "core%@1000x10s")
}

// cpuOf is the CPU time process pid has used (utime+stime, clock ticks of
// 10 ms).
func cpuOf(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
