package integration

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPlanChange: mini → premium-0 → premium-2 → premium-1 under a
// steady writer. Reports the longest gap between acknowledged writes across
// all three changes, failed writes and acknowledged writes lost.
func BenchmarkPlanChange(b *testing.B) {
	for i := 0; i < b.N; i++ {
		br := NewBroker(b)
		ctx := context.Background()
		if _, err := br.Client().CreateApp(ctx, "web"); err != nil {
			b.Fatal(err)
		}
		br.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
		w := startWriter(br, "web")
		waitAcked(b, w, 500)
		start := time.Now()
		for _, plan := range []string{"premium-0", "premium-2", "premium-1"} {
			br.MustLarder("addons:upgrade", "REDIS", "larder-redis:"+plan, "-a", "web")
			waitAcked(b, w, 200)
		}
		took := time.Since(start)
		w.Stop()
		b.ReportMetric(float64(w.maxGap.Microseconds())/1000, "max-gap-ms")
		b.ReportMetric(float64(w.errs), "failed-writes")
		b.ReportMetric(float64(w.missing(b)), "acked-lost")
		b.ReportMetric(float64(took.Milliseconds())/3, "ms-per-change")
	}
}
