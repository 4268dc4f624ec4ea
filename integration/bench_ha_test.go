package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
)

// haBench starts a broker with two loopback agents.
func haBench(b *testing.B) *Broker {
	br := NewBroker(b, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_STANDBY_GRACE=1s")
	br.StartAgent("h1")
	br.StartAgent("h2")
	return br
}

// BenchmarkHAPairProvision: 20 premium-0 creates one after another, request →
// standby in sync (the operation succeeds only then). Reports p50/p95 in ms.
func BenchmarkHAPairProvision(b *testing.B) {
	const n = 20
	br := haBench(b)
	c := br.Client()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		app := fmt.Sprintf("ha%d", i)
		if _, err := c.CreateApp(ctx, app); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for j := 0; j < n; j++ {
			start := time.Now()
			res, err := c.CreateAddon(ctx, app, api.AddonCreate{Plan: "larder-redis:premium-0", Attachment: fmt.Sprintf("R%d", j)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.WaitOperation(ctx, res.Operation.ID, 2*time.Millisecond, nil); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
		b.ReportMetric(ms(percentile(lat, 0.95)), "p95-ms")
		destroyAll(b, c, app)
	}
}

// BenchmarkSwitchover: 5 planned switchovers under a steady writer. Reports
// the engine's write pause (FAILOVER sent → roles swapped, from the event),
// the writer's longest gap between acknowledged writes (which also counts
// noticing the change and reconnecting to the new URL), and acknowledged
// writes lost.
func BenchmarkSwitchover(b *testing.B) {
	const rounds = 5
	br := haBench(b)
	c := br.Client()
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, "web"); err != nil {
		b.Fatal(err)
	}
	res, err := c.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:premium-0"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.WaitOperation(ctx, res.Operation.ID, 5*time.Millisecond, nil); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		w := startWriter(br, "web")
		var pauses []time.Duration
		for r := 0; r < rounds; r++ {
			waitAcked(b, w, 200)
			fo, err := c.Failover(ctx, "web", "REDIS")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.WaitOperation(ctx, fo.Operation.ID, 2*time.Millisecond, nil); err != nil {
				b.Fatal(err)
			}
			pauses = append(pauses, lastSwitchoverPause(b, c))
			waitInSyncBench(b, c)
		}
		waitAcked(b, w, 200)
		w.Stop()
		lost := 0
		rc := w.client()
		for _, k := range w.acked {
			if v, err := rc.Get(ctx, fmt.Sprintf("seq:%d", k)).Result(); err != nil || v != fmt.Sprint(k) {
				lost++
			}
		}
		rc.Close()
		b.ReportMetric(ms(percentile(pauses, 0.5)), "pause-p50-ms")
		b.ReportMetric(ms(percentile(pauses, 1)), "pause-max-ms")
		b.ReportMetric(ms(w.maxGap), "writer-max-gap-ms")
		b.ReportMetric(float64(lost), "acked-lost")
	}
}

func waitAcked(b testing.TB, w *writer, more int) {
	w.mu.Lock()
	n := len(w.acked)
	w.mu.Unlock()
	WaitFor(b, 20*time.Second, "writes", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.acked) < n+more {
			return fmt.Errorf("%d acked", len(w.acked)-n)
		}
		return nil
	})
}

func waitInSyncBench(b *testing.B, c *api.Client) {
	WaitFor(b, 30*time.Second, "pair in sync", func() error {
		infos, err := c.RedisInfo(context.Background(), "web", "REDIS")
		if err != nil {
			return err
		}
		if h := infos[0].HA; h == nil || !h.InSync || h.Rebuilding {
			return fmt.Errorf("%s", infos[0].HAStatus)
		}
		return nil
	})
}

// lastSwitchoverPause reads the pause from the newest switchover event.
func lastSwitchoverPause(b *testing.B, c *api.Client) time.Duration {
	evs, err := c.Events(context.Background(), "web", "REDIS")
	if err != nil {
		b.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == "switchover.done" {
			var ms int
			if _, err := fmt.Sscanf(evs[i].Message[strings.LastIndex(evs[i].Message, "at most ")+8:], "%d ms", &ms); err == nil {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	b.Fatal("no switchover event")
	return 0
}

// BenchmarkStandbyRebuild: time from the decision to rebuild (standby's host
// lost) to the new standby in sync, for 0, 10 and 100 MB of data.
func BenchmarkStandbyRebuild(b *testing.B) {
	for _, mb := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			br := NewBroker(b, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_STANDBY_GRACE=1s")
			agents := map[string]*Agent{"h1": br.StartAgent("h1"), "h2": br.StartAgent("h2")}
			c := br.Client()
			ctx := context.Background()
			c.CreateApp(ctx, "web")
			res, err := c.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:premium-2"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.WaitOperation(ctx, res.Operation.ID, 5*time.Millisecond, nil); err != nil {
				b.Fatal(err)
			}
			fill(b, c, mb)
			waitInSyncBench(b, c)
			for i := 0; i < b.N; i++ {
				infos, _ := c.RedisInfo(ctx, "web", "REDIS")
				spare := "h3"
				if i > 0 {
					spare = fmt.Sprintf("h3-%d", i)
				}
				agents[spare] = br.StartAgent(spare)
				agents[infos[0].HA.StandbyHost].Kill()
				var took time.Duration
				WaitFor(b, 120*time.Second, "standby rebuilt", func() error {
					d, err := rebuildTime(c)
					took = d
					return err
				})
				waitInSyncBench(b, c)
				b.ReportMetric(ms(took), "rebuild-ms")
			}
		})
	}
}

func fill(b *testing.B, c *api.Client, mb int) {
	if mb == 0 {
		return
	}
	vars, err := c.ConfigVars(context.Background(), "web")
	if err != nil {
		b.Fatal(err)
	}
	opt, _ := redis.ParseURL(vars["REDIS_URL"])
	rc := redis.NewClient(opt)
	defer rc.Close()
	val := strings.Repeat("x", 10<<10)
	ctx := context.Background()
	for i := 0; i < mb*100; i += 100 {
		p := rc.Pipeline()
		for j := i; j < i+100; j++ {
			p.Set(ctx, fmt.Sprintf("fill:%d", j), val, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// rebuildTime reads, from the events, how long the last standby rebuild took
// from the decision to the new standby in sync.
func rebuildTime(c *api.Client) (time.Duration, error) {
	evs, err := c.Events(context.Background(), "web", "REDIS")
	if err != nil {
		return 0, err
	}
	var start, end time.Time
	for _, e := range evs {
		switch e.Kind {
		case "standby.rebuild":
			start = e.CreatedAt
		case "standby.rebuilt":
			end = e.CreatedAt
		}
	}
	if start.IsZero() || end.Before(start) {
		return 0, fmt.Errorf("no finished rebuild yet")
	}
	return end.Sub(start), nil
}
