package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/internal/pgtest"
	"larder/internal/testkit"
	"larder/store/postgres"
	"larder/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// BenchmarkListAddons measures `larder addons` as its user sees it, from a
// real broker on each store holding storetest.ManyAddons add-ons:
//   - http: GET /addons over HTTP to the answer's last byte (what curl
//     waits for);
//   - client: that and its decoding by api.Client (what `larder addons
//     --json` waits for before it prints), summary: the same of the
//     summary view (what `larder addons` waits for);
//   - cli: the command itself, a process started and waited for, its table
//     or its JSON written to a pipe (its start costs ~20 ms of that);
//
// each
//   - kept: nothing a listing shows changed since the last, so the broker
//     answers with the listing it kept;
//   - patched: one add-on's state changed before each listing, so the
//     broker reads that one again and joins the answer anew;
//   - reread: 101 add-ons' states changed before each listing (more than
//     the broker reads one by one), so every listing is read whole (the
//     worst case).
//
// The changes themselves are not timed. The target is under 50 ms on both
// stores. cpu-ms/op is the CPU this process and the commands it ran spent
// per listing (the changes' too), which a loaded machine inflates less
// than the time.
func BenchmarkListAddons(b *testing.B) {
	larder := buildLarder(b)
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			br := s.open(b)
			app := storetest.SeedMany(b, br.Store())
			srv := httptest.NewServer(New(br).Handler())
			b.Cleanup(srv.Close)
			c := api.NewClient(srv.URL, brokertest.Token)
			ctx := context.Background()
			lists := []struct {
				name string
				list func(b *testing.B)
			}{
				{"http", func(b *testing.B) { getAddons(b, srv.URL) }},
				{"client", func(b *testing.B) { got, err := c.Addons(ctx, ""); many(b, len(got), err) }},
				{"summary", func(b *testing.B) { got, err := c.AddonSummaries(ctx, ""); many(b, len(got), err) }},
				{"summary-app", func(b *testing.B) { got, err := c.AddonSummaries(ctx, app.Name); many(b, len(got), err) }},
				{"cli", func(b *testing.B) { runLarder(b, larder, srv.URL, "addons") }},
				{"cli-app", func(b *testing.B) { runLarder(b, larder, srv.URL, "addons", "-a", app.Name) }},
				{"cli-json", func(b *testing.B) { runLarder(b, larder, srv.URL, "addons", "--json") }},
			}
			all, err := br.Store().ListedAddons(ctx, "")
			if err != nil {
				b.Fatal(err)
			}
			round := 0
			change := func(b *testing.B, n int) {
				b.StopTimer()
				defer b.StartTimer()
				round++
				for _, a := range all[:n] {
					if err := br.Store().SetAddonState(ctx, a.ID, api.StateProvisioned, fmt.Sprintf("round %d", round)); err != nil {
						b.Fatal(err)
					}
				}
			}
			for _, l := range lists {
				b.Run(l.name+"/kept", func(b *testing.B) {
					l.list(b) // kept from here on
					benchLoop(b, func() { l.list(b) })
				})
				b.Run(l.name+"/patched", func(b *testing.B) { benchLoop(b, func() { change(b, 1); l.list(b) }) })
				b.Run(l.name+"/reread", func(b *testing.B) { benchLoop(b, func() { change(b, 101); l.list(b) }) })
			}
		})
	}
}

// stores are the brokers the listing's tests and benchmarks run on: one on
// each store.
var stores = []struct {
	name string
	open func(tb testing.TB) *broker.Broker
}{
	{"sqlite", func(tb testing.TB) *broker.Broker { return brokertest.New(tb, testkit.HTTPAPI, quietBroker) }},
	{"postgres", func(tb testing.TB) *broker.Broker {
		st, err := postgres.Open(context.Background(), pgtest.URL(tb))
		if err != nil {
			tb.Fatal(err)
		}
		return brokertest.NewOn(tb, st, testkit.HTTPAPI, quietBroker)
	}},
}

// many checks a listing of every add-on.
func many(b *testing.B, n int, err error) {
	if err != nil || n != storetest.ManyAddons {
		b.Fatalf("listed %d add-ons, %v; want %d", n, err, storetest.ManyAddons)
	}
}

// quietBroker keeps the broker's own rounds out of the timing: nothing in
// the seeded store needs reconciling or sampling.
func quietBroker(c *broker.Config) {
	c.ReconcileInterval = time.Hour
	c.Metrics.Disabled = true
}

// benchLoop runs list b.N times and reports its CPU time too, with that of
// the commands it ran.
func benchLoop(b *testing.B, list func()) {
	b.ReportAllocs()
	cpu := testkit.CPUTime() + testkit.ChildrenCPUTime()
	for b.Loop() {
		list()
	}
	b.ReportMetric(float64((testkit.CPUTime()+testkit.ChildrenCPUTime()-cpu).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// buildLarder builds the larder command (as `make build` does) for the cli
// benchmarks.
func buildLarder(b *testing.B) string {
	bin, err := testkit.BuildLarder(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return bin
}

// runLarder runs `larder args…` against the broker at url, its output to a
// pipe read to the end, and checks it listed every add-on.
func runLarder(b *testing.B, bin, url string, args ...string) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LARDER_API_URL="+url, "LARDER_API_TOKEN="+brokertest.Token, "HOME="+b.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || bytes.Count(out.Bytes(), []byte("redis-0")) < storetest.ManyAddons {
		b.Fatalf("larder %v: %v, %d bytes:\n%.500s", args, err, out.Len(), out.Bytes())
	}
}

// getAddons reads GET /addons to its end, as curl would: into nothing.
func getAddons(b *testing.B, base string) {
	req, err := http.NewRequest(http.MethodGet, base+"/addons", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+brokertest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || n < storetest.ManyAddons {
		b.Fatalf("GET /addons: %s, %d bytes, %v", resp.Status, n, err)
	}
}
