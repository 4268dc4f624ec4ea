package edge

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkEdge runs redis-benchmark side by side, in one run, against the
// node directly, the plain edge (spliced, and framed), HAProxy in TCP mode,
// the node's own TLS port, the TLS edge and HAProxy terminating TLS; then
// it measures the memory of 1 000 idle connections. Each configuration runs
// EDGE_BENCH_ROUNDS times (default 3), interleaved and in a rotated order,
// and the medians are printed with the spread across rounds, so a noisy
// machine shows as a wide spread rather than as a wrong figure. Beside each
// proxy's CPU per million requests it prints the load's own (redis-benchmark
// and the node), and EDGE_BENCH_PIN=1 gives the proxy a processor of its
// own (bench_pin_test.go).
//
//	go test -run '^$' -bench Edge -benchtime 1x ./edge
func BenchmarkEdge(b *testing.B) {
	for _, tool := range []string{"redis-benchmark", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed (make engine)", tool)
		}
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("EDGE_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	k := newBenchKit(b)
	modes := benchModes
	if only := os.Getenv("EDGE_BENCH_MODES"); only != "" { // e.g. "throughput" while looking at one figure
		modes = slices.DeleteFunc(slices.Clone(modes), func(m benchMode) bool { return !strings.Contains(m.name, only) })
	}
	if only := os.Getenv("EDGE_BENCH_TARGETS"); only != "" { // e.g. "direct,edge"
		keep := strings.Split(only, ",")
		k.targets = slices.DeleteFunc(k.targets, func(t target) bool { return !slices.Contains(keep, t.name) })
	}
	if k.pinned = benchPinned(b); k.pinned {
		pin(b, 0, proxyCPU)
		pin(b, k.node.cmd.Process.Pid, pairCPU)
		if k.haproxy != nil {
			pin(b, k.haproxy.Process.Pid, proxyCPU)
		}
		b.Logf("pinned: redis-benchmark and the node on CPU %d, the proxy on CPU %d", pairCPU, proxyCPU)
	}
	for b.Loop() {
		res := results{}
		for round := range rounds {
			for _, m := range modes {
				ts := slices.Clone(k.targets)
				rotate(ts, round)
				for _, t := range ts {
					res.add(t.name, m, k.run(t, m))
				}
			}
		}
		res.report(b, modes, k.targets)
		k.idleMemory(b)
	}
}

// benchMode is one redis-benchmark load.
type benchMode struct {
	name       string
	clients    int
	pipeline   int
	requests   int
	percentile bool // the figure that matters is latency
}

var benchModes = []benchMode{
	{"throughput -c 50 -P 16", 50, 16, 200_000, false},
	{"latency -c 50 -P 1", 50, 1, 50_000, true},
	{"latency -c 1 -P 1", 1, 1, 10_000, true},
}

type target struct {
	name, addr string
	tls        bool
	pid        int // the proxy's process for CPU figures (0: this process, -1: none)
}

type benchKit struct {
	tb      testing.TB
	node    *node
	caPath  string
	targets []target
	edge    *Edge
	haproxy *exec.Cmd
	pinned  bool // EDGE_BENCH_PIN: see bench_pin_test.go
}

func newBenchKit(tb testing.TB) *benchKit {
	ca, certs := testCA(tb)
	dir := tb.TempDir()
	leaf, err := ca.Issue([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile := writePair(tb, dir, leaf)
	n := startNode(tb, certFile, keyFile, ca.CertPath)
	k := &benchKit{tb: tb, node: n, caPath: ca.CertPath}

	k.edge = newEdge(tb, Config{Certs: certs})
	framed := newEdge(tb, Config{Framed: true})
	pooled := newEdge(tb, Config{pooled: true})
	if err := pooled.Apply([]Route{{ID: "pooled", Plain: "127.0.0.1:0", Backend: n.Addr, Epoch: 1}}); err != nil {
		tb.Fatal(err)
	}
	plain := Route{ID: "plain", Plain: "127.0.0.1:0", TLS: "127.0.0.1:0", Backend: n.Addr, Epoch: 1}
	if err := k.edge.Apply([]Route{plain}); err != nil {
		tb.Fatal(err)
	}
	if err := framed.Apply([]Route{{ID: "framed", Plain: "127.0.0.1:0", Backend: n.Addr, Epoch: 1}}); err != nil {
		tb.Fatal(err)
	}
	es := stats(tb, k.edge, "plain")
	k.targets = []target{
		{name: "direct", addr: n.Addr, pid: -1},
		{name: "edge", addr: es.PlainAddr},
		{name: "edge framed", addr: stats(tb, framed, "framed").PlainAddr},
		{name: "edge pooled", addr: stats(tb, pooled, "pooled").PlainAddr},
	}
	hp, htls := k.startHAProxy(dir, certFile, keyFile)
	if hp != "" {
		k.targets = append(k.targets, target{name: "haproxy", addr: hp, pid: k.haproxy.Process.Pid})
	}
	k.targets = append(k.targets,
		target{name: "redis tls", addr: n.TLSAddr, tls: true, pid: -1},
		target{name: "edge tls", addr: es.TLSAddr, tls: true})
	if htls != "" {
		k.targets = append(k.targets, target{name: "haproxy tls", addr: htls, tls: true, pid: k.haproxy.Process.Pid})
	}
	return k
}

// startHAProxy runs HAProxy (TCP mode, plain and TLS) in front of the node
// with a config of its own; "" when HAProxy is not installed.
func (k *benchKit) startHAProxy(dir, certFile, keyFile string) (plain, tlsAddr string) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		k.tb.Logf("haproxy is not installed (apt-get install haproxy): no HAProxy anchor")
		return "", ""
	}
	pem := filepath.Join(dir, "haproxy.pem")
	both := append(mustRead(k.tb, certFile), mustRead(k.tb, keyFile)...)
	if err := os.WriteFile(pem, both, 0o600); err != nil {
		k.tb.Fatal(err)
	}
	plain, tlsAddr = loopback(freePort(k.tb)), loopback(freePort(k.tb))
	cfg := fmt.Sprintf(`global
    maxconn 5000
    nbthread %d
defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
frontend plain
    bind %s
    default_backend node
frontend tls
    bind %s ssl crt %s
    default_backend node
backend node
    server n1 %s
`, runtime.GOMAXPROCS(0), plain, tlsAddr, pem, k.node.Addr)
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		k.tb.Fatal(err)
	}
	k.haproxy = exec.Command(bin, "-db", "-f", cfgFile)
	k.haproxy.Stderr = os.Stderr
	if err := k.haproxy.Start(); err != nil {
		k.tb.Fatalf("start haproxy: %v", err)
	}
	k.tb.Cleanup(func() { k.haproxy.Process.Kill(); k.haproxy.Wait() })
	c := newClient(k.tb, plain, k.node.Pass, nil)
	waitFor(k.tb, 10*time.Second, func() error { return c.Ping(context.Background()).Err() })
	c.Close()
	return plain, tlsAddr
}

// figure is one redis-benchmark test's result.
type figure struct {
	rps, p50, p99 float64 // requests/s; latencies in ms
	cpu           float64 // CPU seconds the proxy spent per million requests (NaN: not measured)
	// pair is the CPU seconds redis-benchmark and the node spent per million
	// requests: what the load itself costs, with or without a proxy.
	pair float64
}

// run runs redis-benchmark once and returns its SET and GET figures.
func (k *benchKit) run(t target, m benchMode) map[string]figure {
	host, port := hostPort(k.tb, t.addr)
	args := []string{"-h", host, "-p", port, "-a", k.node.Pass, "-c", strconv.Itoa(m.clients),
		"-P", strconv.Itoa(m.pipeline), "-n", strconv.Itoa(m.requests), "-t", "set,get", "--csv"}
	if t.tls {
		args = append(args, "--tls", "--cacert", k.caPath)
	}
	cpu0, node0 := cpuSeconds(t.pid), cpuSeconds(k.node.cmd.Process.Pid)
	cmd := exec.Command("redis-benchmark", args...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		k.tb.Fatalf("redis-benchmark: %v", err)
	}
	if k.pinned {
		pin(k.tb, cmd.Process.Pid, pairCPU)
	}
	err := cmd.Wait()
	out := stdout.String()
	if err != nil {
		k.tb.Fatalf("redis-benchmark against %s: %v: %s", t.name, err, out)
	}
	cpu := cpuSeconds(t.pid) - cpu0
	pair := cpuSeconds(k.node.cmd.Process.Pid) - node0 + (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 3 {
		k.tb.Fatalf("redis-benchmark against %s printed %q: %v", t.name, out, err)
	}
	figs := map[string]figure{}
	for _, row := range rows[1:] { // "test","rps","avg","min","p50","p95","p99","max"
		f := func(i int) float64 { v, _ := strconv.ParseFloat(row[i], 64); return v }
		figs[row[0]] = figure{rps: f(1), p50: f(4), p99: f(6), cpu: cpu / float64(2*m.requests) * 1e6,
			pair: pair / float64(2*m.requests) * 1e6}
	}
	return figs
}

// cpuSeconds is the user+system CPU time of pid (0: this process; -1:
// not measured, NaN).
func cpuSeconds(pid int) float64 {
	if pid < 0 {
		return 0
	}
	path := "/proc/self/stat"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func rotate(ts []target, n int) {
	if len(ts) > 0 {
		n %= len(ts)
		copy(ts, append(slices.Clone(ts[n:]), ts[:n]...))
	}
}

// results holds every round's figures by target, mode and test.
type results map[string][]figure

func key(target string, m benchMode, test string) string { return target + "|" + m.name + "|" + test }

func (r results) add(target string, m benchMode, figs map[string]figure) {
	for test, f := range figs {
		r[key(target, m, test)] = append(r[key(target, m, test)], f)
	}
}

// median of one field over the rounds, and the spread (max-min)/median.
func (r results) median(k string, field func(figure) float64) (med, spread float64) {
	var xs []float64
	for _, f := range r[k] {
		xs = append(xs, field(f))
	}
	if len(xs) == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	med = xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	if med > 0 {
		spread = (xs[len(xs)-1] - xs[0]) / med
	}
	return med, spread
}

// report prints the medians with each proxy set against its anchor (the
// node directly for plain targets, the node's TLS port for TLS ones), and
// reports the headline ratios as benchmark metrics.
func (r results) report(b *testing.B, modes []benchMode, targets []target) {
	rps := func(f figure) float64 { return f.rps }
	p50 := func(f figure) float64 { return f.p50 }
	p99 := func(f figure) float64 { return f.p99 }
	cpu := func(f figure) float64 { return f.cpu }
	pair := func(f figure) float64 { return f.pair }
	var out strings.Builder
	for _, m := range modes {
		fmt.Fprintf(&out, "\n%s (medians of %d rounds; ± is the spread max-min across rounds)\n", m.name, len(r[key("direct", m, "SET")]))
		fmt.Fprintf(&out, "  %-12s %-4s %12s %7s %8s %9s %9s %12s %10s %9s\n", "target", "test", "rps", "±", "vs anchor", "p50 ms", "p99 ms", "p99 added µs", "cpu s/Mreq", "load cpu")
		for _, test := range []string{"SET", "GET"} {
			for _, t := range targets {
				anchor := "direct"
				if t.tls {
					anchor = "redis tls"
				}
				k := key(t.name, m, test)
				v, sp := r.median(k, rps)
				a, _ := r.median(key(anchor, m, test), rps)
				l50, _ := r.median(k, p50)
				l99, _ := r.median(k, p99)
				a99, _ := r.median(key(anchor, m, test), p99)
				c, _ := r.median(k, cpu)
				// load cpu is what redis-benchmark and the node spent: a
				// proxy in the path raises their cost per request too.
				lc, _ := r.median(k, pair)
				cs := fmt.Sprintf("%.2f", c)
				if t.pid < 0 {
					cs = "-"
				}
				fmt.Fprintf(&out, "  %-12s %-4s %12.0f %6.1f%% %8.1f%% %9.3f %9.3f %12.0f %10s %9.2f\n",
					t.name, test, v, 100*sp, 100*v/a, l50, l99, 1000*(l99-a99), cs, lc)
				if test == "GET" && (t.name == "edge" || t.name == "edge tls" || t.name == "edge framed") {
					if !m.percentile {
						b.ReportMetric(100*v/a, strings.ReplaceAll(t.name, " ", "-")+"-GET-%anchor")
					} else if m.clients == 1 {
						b.ReportMetric(1000*(l99-a99), strings.ReplaceAll(t.name, " ", "-")+"-GET-p99-added-µs")
					}
				}
			}
		}
	}
	fmt.Print(out.String())
}
