package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/api"
)

// TestRedisMetricsCLI: the real binary samples a real node every second
// (--metrics-interval); `larder redis:metrics` charts it with the plan's
// limit and the latest values, --json prints the series, a bad --since is a
// usage error, and /metrics answers the generated metrics token.
func TestRedisMetricsCLI(t *testing.T) {
	b := NewBroker(t, "LARDER_METRICS_INTERVAL=1s")
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")

	var m api.Metrics
	WaitFor(t, 30*time.Second, "two samples of the node", func() error {
		r := b.MustLarder("redis:metrics", "-a", "web", "--json")
		m = api.Metrics{}
		if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
			return fmt.Errorf("--json: %v\n%s", err, r.Stdout)
		}
		if len(m.Nodes) != 1 || len(m.Nodes[0].Times) < 2 {
			return fmt.Errorf("series: %+v", m.Nodes)
		}
		return nil
	})
	if m.Since != "1h" || m.Step != 1 || m.MemoryLimitBytes != 25<<20 || m.ClientsLimit != 20 || m.Plan != "larder-redis:mini" {
		t.Fatalf("--json header: %+v", m)
	}
	if mem := m.Nodes[0].Metric(api.MetricMemory); mem == nil || *mem.Values[0] <= 0 {
		t.Fatalf("memory series: %+v", mem)
	}

	text := b.MustLarder("redis:metrics", "-a", "web", "--since", "1d").Stdout
	for _, want := range []string{"metrics, last 1d (5m0s steps)", "primary", "Memory", "limit 25 MB", "now ", "% of the limit",
		"Clients", "limit 20", "CPU", "Ops/s", "Hit ratio", "Evictions/s", "Repl lag", "Persistence", "┄"} {
		if !strings.Contains(text, want) {
			t.Fatalf("redis:metrics lacks %q:\n%s", want, text)
		}
	}

	// Bad input: a usage error before any request, and the API's 422.
	r := b.Larder("redis:metrics", "-a", "web", "--since", "2y")
	if r.Code == 0 || !strings.Contains(r.Stderr, "1h, 6h, 1d, 1w, 30d") {
		t.Fatalf("--since 2y: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := b.Larder("redis:metrics", "redis-nope", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "redis-nope") {
		t.Fatalf("unknown add-on: exit %d\n%s", r.Code, r.Stderr)
	}
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/apps/web/addons/"+m.Addon.Name+"/metrics?since=forever", nil)
	req.Header.Set("Authorization", "Bearer "+b.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "invalid since") {
		t.Fatalf("since=forever: %d %s; want 422 naming the ranges", resp.StatusCode, body)
	}

	// /metrics with the token the broker generated in its data dir.
	token, err := os.ReadFile(filepath.Join(b.DataDir, "metrics-token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, b.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `larder_memory_limit_bytes{addon="`+m.Addon.Name+`",app="web"`) {
		t.Fatalf("/metrics: %d\n%s", resp.StatusCode, body)
	}
}
