package httpapi

import (
	"context"
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

// BenchmarkListAddons measures `larder addons` as its user sees it: GET
// /addons over HTTP, from a real broker on each store holding
// storetest.ManyAddons add-ons, to the client's decoded list. The target is
// under 50 ms on both stores.
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
		b.Run(s.name, func(b *testing.B) { benchListAddons(b, s.open(b)) })
	}
}

// quietBroker keeps the broker's own rounds out of the timing: nothing in
// the seeded store needs reconciling or sampling.
func quietBroker(c *broker.Config) {
	c.ReconcileInterval = time.Hour
	c.Metrics.Disabled = true
}

func benchListAddons(b *testing.B, br *broker.Broker) {
	storetest.SeedMany(b, br.Store())
	srv := httptest.NewServer(New(br).Handler())
	b.Cleanup(srv.Close)
	c := api.NewClient(srv.URL, brokertest.Token)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.Addons(ctx, "")
		if err != nil || len(got) != storetest.ManyAddons {
			b.Fatalf("Addons = %d, %v", len(got), err)
		}
	}
}
