package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestUpgradeLiveNoLoss: mini → premium-0 → premium-2 → premium-1 under a
// steady writer: no failed write, no lost key, the standby arrives with the
// first HA plan; then a downgrade whose data does not fit is refused with the
// figures and changes nothing.
func TestUpgradeLiveNoLoss(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	w := startWriter(b, "web")
	waitAcked(t, w, 200)
	for _, plan := range []string{"premium-0", "premium-2", "premium-1"} {
		b.MustLarder("addons:upgrade", "REDIS", "larder-redis:"+plan, "-a", "web")
		waitAcked(t, w, 200)
		info := haInfo(t, b, "web")
		if info.Plan != "larder-redis:"+plan {
			t.Fatalf("plan after upgrade = %s, want %s", info.Plan, plan)
		}
		if info.HA == nil || !info.HA.InSync {
			t.Errorf("%s: HA = %+v (%s), want a standby in sync", plan, info.HA, info.HAStatus)
		}
		admin := adminClient(t, b, directURL(t, b, "web"))
		if got := configGet(t, admin, "appendonly"); got != "yes" {
			t.Errorf("%s: appendonly = %s, want yes", plan, got)
		}
		if got, want := configGet(t, admin, "maxmemory"), fmt.Sprint(info.MemoryLimitBytes); got != want {
			t.Errorf("%s: maxmemory = %s, want %s", plan, got, want)
		}
	}
	w.Stop()
	if w.errs != 0 {
		t.Errorf("%d writes failed during live plan changes, want 0", w.errs)
	}
	if m := w.missing(t); m != 0 {
		t.Errorf("%d of %d acknowledged writes lost", m, len(w.acked))
	}

	// 40 MB of data does not fit mini (25 MB): refused with the figures.
	c := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
	val := strings.Repeat("v", 10<<10)
	for i := 0; i < 4000; i += 100 {
		p := c.Pipeline()
		for j := i; j < i+100; j++ {
			p.Set(ctx, fmt.Sprintf("big:%d", j), val, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := b.Larder("addons:downgrade", "REDIS", "larder-redis:mini", "-a", "web")
	if r.Code == 0 || !strings.Contains(r.Stderr, "MB") || !strings.Contains(r.Stderr, "mini") {
		t.Errorf("downgrade that does not fit: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if info := haInfo(t, b, "web"); info.Plan != "larder-redis:premium-1" {
		t.Errorf("refused downgrade changed the plan to %s", info.Plan)
	}
	// Once the data is gone the downgrade goes through, and the standby goes.
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	b.MustLarder("addons:downgrade", "REDIS", "larder-redis:mini", "-a", "web")
	WaitFor(t, 10*time.Second, "standby removed", func() error {
		if info := haInfo(t, b, "web"); info.HA != nil || len(nodeDirs(b)) != 1 {
			return fmt.Errorf("ha %+v, dirs %v", info.HA, nodeDirs(b))
		}
		return nil
	})
}
