package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/internal/pgtest"
)

// provisionOnce creates a mini add-on on app and returns how long it took from
// the request until its URL answered PING, and the URL.
func provisionOnce(ctx context.Context, c *api.Client, app, as string) (time.Duration, error) {
	start := time.Now()
	res, err := c.CreateAddon(ctx, app, api.AddonCreate{Plan: "larder-redis:mini", Attachment: as})
	if err != nil {
		return 0, err
	}
	if _, err := c.WaitOperation(ctx, res.Operation.ID, 2*time.Millisecond, nil); err != nil {
		return 0, err
	}
	vars, err := c.ConfigVars(ctx, app)
	if err != nil {
		return 0, err
	}
	opt, err := redis.ParseURL(vars[as+"_URL"])
	if err != nil {
		return 0, fmt.Errorf("no %s_URL: %w", as, err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkProvisionSequential: 50 single-node creates one after another,
// request → usable URL. Reports p50 and p95 in ms.
func BenchmarkProvisionSequential(b *testing.B) { provisionSequential(b, NewBroker(b)) }

// BenchmarkProvisionSequentialPostgres: the same on a PostgreSQL store.
func BenchmarkProvisionSequentialPostgres(b *testing.B) {
	provisionSequential(b, NewBroker(b, "LARDER_STORE_URL="+pgtest.URL(b)))
}

func provisionSequential(b *testing.B, br *Broker) {
	const n = 50
	c := br.Client()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		app := fmt.Sprintf("seq%d", i)
		if _, err := c.CreateApp(ctx, app); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for j := 0; j < n; j++ {
			d, err := provisionOnce(ctx, c, app, fmt.Sprintf("R%d", j))
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, d)
		}
		b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
		b.ReportMetric(ms(percentile(lat, 0.95)), "p95-ms")
		b.ReportMetric(ms(percentile(lat, 1)), "max-ms")
		destroyAll(b, c, app)
	}
}

// BenchmarkProvisionConcurrent: 50 creates at once; reports the wall time
// until all 50 URLs answer.
func BenchmarkProvisionConcurrent(b *testing.B) {
	const n = 50
	br := NewBroker(b)
	c := br.Client()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		app := fmt.Sprintf("par%d", i)
		if _, err := c.CreateApp(ctx, app); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for j := 0; j < n; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				if _, err := provisionOnce(ctx, c, app, fmt.Sprintf("R%d", j)); err != nil {
					errs <- err
				}
			}(j)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.ReportMetric(ms(time.Since(start)), "wall-ms")
		destroyAll(b, c, app)
	}
}

// BenchmarkIdleNodeRSS: resident memory of one idle mini node.
func BenchmarkIdleNodeRSS(b *testing.B) {
	br := NewBroker(b)
	c := br.Client()
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, "rss"); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := provisionOnce(ctx, c, "rss", "REDIS"); err != nil {
			b.Fatal(err)
		}
		dirs := nodeDirs(br)
		pid, ok := readPID(filepath.Join(dirs[0], "node.pid"))
		if !ok {
			b.Fatal("no pidfile")
		}
		b.ReportMetric(float64(rssKB(b, pid))/1024, "rss-MB")
		destroyAll(b, c, "rss")
	}
}

func rssKB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func destroyAll(b *testing.B, c *api.Client, app string) {
	ctx := context.Background()
	addons, err := c.Addons(ctx, app)
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range addons {
		res, err := c.DestroyAddon(ctx, app, a.Name, api.AddonDestroy{Confirm: app})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.WaitOperation(ctx, res.Operation.ID, 5*time.Millisecond, nil); err != nil {
			b.Fatal(err)
		}
	}
}
