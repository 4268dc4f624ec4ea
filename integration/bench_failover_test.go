package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkHostCutFailover: the primary's host is cut off from everything
// (three observer locations, 5 s window, agents' lease 1 s). Reports the
// recovery time a writer sees (last acknowledged write before the cut → first
// acknowledged write at the app's repointed URL), the broker's own times
// (first down report → writable), and acknowledged writes lost.
func BenchmarkHostCutFailover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		c := newHACluster(b, "5s")
		br := c.b
		ctx := context.Background()
		app := fmt.Sprintf("cut%d", i)
		if _, err := br.Client().CreateApp(ctx, app); err != nil {
			b.Fatal(err)
		}
		br.MustLarder("addons:create", "larder-redis:premium-0", "-a", app, "--wait")
		infos, err := br.Client().RedisInfo(ctx, app, "REDIS")
		if err != nil || infos[0].HA == nil {
			b.Fatalf("no pair: %v", err)
		}
		primaryHost := infos[0].HA.PrimaryHost
		w := startWriter(br, app)
		waitAcked(b, w, 500)
		vars, _ := br.Client().ConfigVars(ctx, app)
		addr, port := primaryNode(b, br, app)
		// The minority client sits with the old primary: straight to it,
		// past the edge, which runs with the broker on the other side.
		m := startMinority(b, c.hostNS[primaryHost], "-u", nodeURL(b, vars["REDIS_URL"], addr, port))
		WaitFor(b, 5*time.Second, "minority client writing", func() error {
			if m.value() == 0 {
				return fmt.Errorf("no INCR yet")
			}
			return nil
		})
		cutAt := time.Now()
		c.hostNS[primaryHost].Cut()
		WaitFor(b, 60*time.Second, "failover", func() error {
			in, err := br.Client().RedisInfo(ctx, app, "REDIS")
			if err != nil {
				return err
			}
			if in[0].HA == nil || in[0].HA.PrimaryHost == primaryHost {
				return fmt.Errorf("%s", in[0].HAStatus)
			}
			return nil
		})
		waitAcked(b, w, 500)
		w.mu.Lock()
		b.Logf("writer's URLs %d (the edge's, unchanged: 1), longest gap %v after the cut at %s", len(w.urls), w.maxGap, cutAt.Format("15:04:05.000"))
		w.mu.Unlock()
		w.Stop()
		minorityAcked := m.stop()
		c.hostNS[primaryHost].Heal()
		nvars, _ := br.Client().ConfigVars(ctx, app)
		nc := redisClient(b, nvars["REDIS_URL"])
		final, _ := nc.Get(ctx, "minority").Int()
		b.ReportMetric(float64(max(minorityAcked-final, 0)), "minority-acked-lost")
		b.ReportMetric(float64(w.maxGap.Milliseconds()), "recovery-ms")
		b.ReportMetric(float64(w.missing(b)), "acked-lost")
		evs, _ := br.Client().Events(ctx, app, "REDIS")
		for _, e := range evs {
			b.Logf("%s %s %s", e.CreatedAt.Format("15:04:05.000"), e.Kind, e.Message)
			if e.Kind == "failover" {
				var det, wr int
				if _, err := fmt.Sscanf(e.Message[max(strings.Index(e.Message, "detected after"), 0):], "detected after %d ms, writable after %d ms", &det, &wr); err == nil {
					b.ReportMetric(float64(wr), "broker-writable-ms")
				}
			}
		}
	}
}
