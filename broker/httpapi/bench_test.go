package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
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
// real broker on each store holding storetest.ManyAddons add-ons: "http" is
// GET /addons over HTTP to the answer's last byte (what curl waits for),
// "client" that and its decoding by api.Client (what `larder addons`
// waits for before it prints). The target is under 50 ms on both stores.
// cpu-ms/op is the CPU this process spent per listing, which a loaded
// machine inflates less than the time.
func BenchmarkListAddons(b *testing.B) {
	for _, s := range []struct {
		name string
		open func(b *testing.B) *broker.Broker
	}{
		{"sqlite", func(b *testing.B) *broker.Broker { return brokertest.New(b, testkit.HTTPAPI, quietBroker) }},
		{"postgres", func(b *testing.B) *broker.Broker {
			st, err := postgres.Open(context.Background(), pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			return brokertest.NewOn(b, st, testkit.HTTPAPI, quietBroker)
		}},
	} {
		b.Run(s.name, func(b *testing.B) {
			br := s.open(b)
			storetest.SeedMany(b, br.Store())
			srv := httptest.NewServer(New(br).Handler())
			b.Cleanup(srv.Close)
			b.Run("http", func(b *testing.B) { benchLoop(b, func() { getAddons(b, srv.URL) }) })
			c := api.NewClient(srv.URL, brokertest.Token)
			b.Run("client", func(b *testing.B) {
				benchLoop(b, func() {
					got, err := c.Addons(context.Background(), "")
					if err != nil || len(got) != storetest.ManyAddons {
						b.Fatalf("Addons = %d, %v", len(got), err)
					}
				})
			})
		})
	}
}

// quietBroker keeps the broker's own rounds out of the timing: nothing in
// the seeded store needs reconciling or sampling.
func quietBroker(c *broker.Config) {
	c.ReconcileInterval = time.Hour
	c.Metrics.Disabled = true
}

// benchLoop runs list b.N times and reports its CPU time too.
func benchLoop(b *testing.B, list func()) {
	b.ReportAllocs()
	cpu := testkit.CPUTime()
	for b.Loop() {
		list()
	}
	b.ReportMetric(float64((testkit.CPUTime()-cpu).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// getAddons reads GET /addons to its end.
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
