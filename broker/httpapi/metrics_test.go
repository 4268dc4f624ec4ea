package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/fault"
	"larder/internal/testkit"
)

const metricsToken = "scrape-token"

// TestMetricsEndpoints: a real broker samples a real node; its series come
// back from the API with the plan's limits, and /metrics, parsed with
// Prometheus' text parser, holds the node's real figures and the broker's
// counters, to a bearer of the metrics token only. Bad input is refused.
func TestMetricsEndpoints(t *testing.T) {
	b, c := feedBroker(t, func(cfg *broker.Config) {
		cfg.MetricsToken = metricsToken
		cfg.Metrics.Interval = 200 * time.Millisecond
	})
	srv := httptest.NewServer(New(b).Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	res := brokertest.Provision(t, c, "web", "larder-redis:mini", "")
	rc := brokertest.AddonClient(t, c, "web", res.Addon.Name)

	// Traffic while the sampler runs: writes, hits and a miss, from one
	// connection the app holds open.
	var series api.Metrics
	testkit.WaitFor(t, 30*time.Second, func() error {
		var err error
		for i := range 50 {
			rc.Set(ctx, fmt.Sprint("k", i), strings.Repeat("v", 1000), 0)
			rc.Get(ctx, fmt.Sprint("k", i))
		}
		rc.Get(ctx, "missing")
		if series, err = c.Metrics(ctx, "web", res.Addon.Name, "1h"); err != nil {
			return err
		}
		if len(series.Nodes) != 1 || len(series.Nodes[0].Times) < 2 {
			return fmt.Errorf("series: %+v", series.Nodes)
		}
		if ops := series.Nodes[0].Metric(api.MetricOps).Values; *ops[len(ops)-1] <= 0 {
			return fmt.Errorf("no ops yet")
		}
		return nil
	})
	n := series.Nodes[0]
	mem := n.Metric(api.MetricMemory)
	if series.Step != 1 || series.Since != "1h" || n.Role != "primary" || n.Host != "local" {
		t.Fatalf("series header: step %d since %q role %q host %q", series.Step, series.Since, n.Role, n.Host)
	}
	if mem.Limit == nil || int64(*mem.Limit) != series.MemoryLimitBytes || series.MemoryLimitBytes <= 0 || *mem.Values[len(mem.Values)-1] <= 0 {
		t.Fatalf("memory: limit %v (plan %d), values %v", mem.Limit, series.MemoryLimitBytes, mem.Values)
	}
	if cl := n.Metric(api.MetricClients); cl.Limit == nil || int(*cl.Limit) != series.ClientsLimit || *cl.Values[len(cl.Values)-1] < 1 {
		t.Fatalf("clients: %+v (limit %d); want the app's connection counted", cl, series.ClientsLimit)
	}
	for _, name := range api.MetricNames {
		if s := n.Metric(name); s == nil || len(s.Values) != len(n.Times) {
			t.Fatalf("series %s: %+v; want one value per time", name, s)
		}
	}

	// /metrics, parsed as Prometheus parses it.
	families := scrape(t, srv.URL, metricsToken, http.StatusOK)
	labels := map[string]string{"addon": res.Addon.Name, "app": "web", "plan": "larder-redis:mini", "role": "primary", "host": "local"}
	if got := gaugeOf(t, families, "larder_memory_limit_bytes", labels); int64(got) != series.MemoryLimitBytes {
		t.Fatalf("larder_memory_limit_bytes = %v, want the plan's %d", got, series.MemoryLimitBytes)
	}
	if got := gaugeOf(t, families, "larder_memory_used_bytes", labels); got < 50*1000 {
		t.Fatalf("larder_memory_used_bytes = %v; want at least the 50 kB written", got)
	}
	if got := gaugeOf(t, families, "larder_node_up", labels); got != 1 {
		t.Fatalf("larder_node_up = %v, want 1", got)
	}
	if got := gaugeOf(t, families, "larder_clients", labels); got < 1 {
		t.Fatalf("larder_clients = %v; want the app's connection", got)
	}
	if got := counterOf(t, families, "larder_operations_total", map[string]string{"kind": "provision", "result": "succeeded"}); got < 1 && res.Operation != nil {
		t.Fatalf("larder_operations_total{provision,succeeded} = %v, want 1", got)
	}
	if _, ok := families["larder_failovers_total"]; !ok {
		t.Fatal("no larder_failovers_total")
	}
	scrape(t, srv.URL, brokertest.Token, http.StatusOK) // the admin token works too

	// Bad input.
	scrape(t, srv.URL, "", http.StatusUnauthorized)
	scrape(t, srv.URL, "wrong", http.StatusUnauthorized)
	if _, err := c.Metrics(ctx, "web", res.Addon.Name, "2y"); fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "1h, 6h, 1d, 1w, 30d") {
		t.Fatalf("since=2y: %v; want Invalid (422) naming the ranges", err)
	}
	if _, err := c.Metrics(ctx, "web", "redis-nope", "1h"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("unknown add-on: %v; want NotFound", err)
	}
	metricsClient := api.NewClient(srv.URL, metricsToken)
	if _, err := metricsClient.Metrics(ctx, "web", res.Addon.Name, "1h"); fault.KindOf(err) != fault.Unauthorized {
		t.Fatalf("the metrics token on the API: %v; want Unauthorized (it opens /metrics only)", err)
	}
}

// scrape GETs /metrics with token and parses it when want is 200.
func scrape(t *testing.T, base, token string, want int) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET /metrics with %q: %d, want %d", token, resp.StatusCode, want)
	}
	if want != http.StatusOK {
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// find returns the metric of family name whose labels include want.
func find(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := families[name]
	if !ok {
		t.Fatalf("no %s in /metrics", name)
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s with labels %v in %v", name, want, f.GetMetric())
	return nil
}

func gaugeOf(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return find(t, families, name, labels).GetGauge().GetValue()
}

func counterOf(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return find(t, families, name, labels).GetCounter().GetValue()
}
