package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/catalog"
)

// benchCatalog adds to the built-in plans a single-node plan and an HA plan
// of 1 GB, so 100 MB forks fit with headroom.
func benchCatalog(b *testing.B) string {
	c := catalog.Builtin()
	svc := &c.Services[0]
	svc.Plans = append(svc.Plans,
		catalog.Plan{Name: "bench-1g", HumanName: "Bench 1 GB", MaxMemoryBytes: 1 << 30, MaxClients: 100},
		catalog.Plan{Name: "bench-ha-1g", HumanName: "Bench HA 1 GB", MaxMemoryBytes: 1 << 30, MaxClients: 100, Persistence: true, HA: true})
	data, err := json.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "catalog.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// fillMixed writes strings, hashes, lists, sets and sorted sets in equal
// numbers until the server uses target bytes; it returns the keys written
// and the memory used.
func fillMixed(b *testing.B, c *redis.Client, target int64) (keys, used int64) {
	ctx := context.Background()
	val := strings.Repeat("v", 900)
	field := strings.Repeat("f", 40)
	for batch := 0; ; batch++ {
		p := c.Pipeline()
		for i := range 1000 {
			k := fmt.Sprintf("b%d:%d", batch, i)
			switch i % 5 {
			case 0:
				p.Set(ctx, k, val, 0)
			case 1:
				args := make([]any, 0, 20)
				for j := range 10 {
					args = append(args, "f"+strconv.Itoa(j), field)
				}
				p.HSet(ctx, k, args...)
			case 2:
				p.RPush(ctx, k, field, field, field, field, field, field, field, field, field, field)
			case 3:
				p.SAdd(ctx, k, "m0"+field, "m1"+field, "m2"+field, "m3"+field, "m4"+field, "m5"+field, "m6"+field, "m7"+field)
			case 4:
				zs := make([]redis.Z, 8)
				for j := range zs {
					zs[j] = redis.Z{Score: float64(j), Member: strconv.Itoa(j) + field}
				}
				p.ZAdd(ctx, k, zs...)
			}
			if i%10 == 0 {
				p.Expire(ctx, k, time.Hour)
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		keys += 1000
		if batch%20 == 0 {
			text, err := c.Info(ctx, "memory").Result()
			if err != nil {
				b.Fatal(err)
			}
			for _, line := range strings.Split(text, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
					used, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			if used >= target {
				return keys, used
			}
		}
	}
}

// timeBareReplicaof makes an empty plain redis-server a replica of src and
// times it until it is in sync: the yardstick for a fork. extra configures
// the replica (e.g. its repl-diskless-load).
func timeBareReplicaof(b *testing.B, src *plainRedis, extra ...string) time.Duration {
	r := startPlainRedis(b, append([]string{"--masterauth", src.Password}, extra...)...)
	defer r.Stop()
	c := r.Admin()
	ctx := context.Background()
	start := time.Now()
	if err := c.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(src.Port)).Err(); err != nil {
		b.Fatal(err)
	}
	// A fixed 5 ms poll: WaitFor's backoff would add up to 200 ms to the yardstick.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		text, err := c.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(text, "master_link_status:up") && strings.Contains(text, "master_sync_in_progress:0") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("bare replica not in sync after 10 minutes: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // polling interval of the real signal
	}
	return time.Since(start)
}

// timeFork creates an add-on on plan forked from url and times it until the
// add-on is provisioned; it checks the key count and returns the method used.
func timeFork(b *testing.B, br *Broker, app, plan, url string, keys int64) (time.Duration, string) {
	c := br.Client()
	ctx := context.Background()
	start := time.Now()
	res, err := c.CreateAddon(ctx, app, api.AddonCreate{Plan: "larder-redis:" + plan, Config: map[string]string{"fork": url}})
	if err != nil {
		b.Fatal(err)
	}
	op, err := c.WaitOperation(ctx, res.Operation.ID, 10*time.Millisecond, nil)
	took := time.Since(start)
	if err != nil || op.State != api.OpSucceeded {
		b.Fatalf("fork: %+v, %v", op, err)
	}
	infos, err := c.RedisInfo(ctx, app, res.Addon.Name)
	if err != nil || len(infos) != 1 || infos[0].Fork == nil {
		b.Fatalf("redis:info: %+v, %v", infos, err)
	}
	if f := infos[0].Fork; f.KeysDone != keys {
		b.Fatalf("forked %d keys, want %d", f.KeysDone, keys)
	}
	method := infos[0].Fork.Method
	destroyAll(b, c, app)
	return took, method
}

// BenchmarkFork100MB forks 100 MB of mixed data (strings, hashes, lists, sets,
// sorted sets; a tenth with TTLs) from a plain redis-server: by replication
// into a single node and into an HA pair, and by the SCAN + DUMP/RESTORE
// fallback; a bare REPLICAOF of the same data is the yardstick (target: the
// SYNC fork within 2× of it). The source sends its snapshot at once
// (repl-diskless-sync-delay 0), for bare replica and forks alike.
func BenchmarkFork100MB(b *testing.B) {
	br := NewBroker(b, "LARDER_CATALOG="+benchCatalog(b))
	src := startPlainRedis(b, "--repl-diskless-sync-delay", "0")
	keys, used := fillMixed(b, src.Admin(), 100<<20)
	ctx := context.Background()
	if err := src.Admin().Do(ctx, "ACL", "SETUSER", "nosync", "on", ">nosync-secret", "~*", "&*", "+@all", "-sync", "-psync").Err(); err != nil {
		b.Fatal(err)
	}
	if _, err := br.Client().CreateApp(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	mb := float64(used) / (1 << 20)
	b.Logf("source: %d keys, %.1f MB used", keys, mb)
	report := func(name string, d time.Duration) {
		b.ReportMetric(d.Seconds(), name+"-s")
		b.ReportMetric(mb/d.Seconds(), name+"-MB/s")
		b.ReportMetric(float64(keys)/d.Seconds(), name+"-keys/s")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bare := timeBareReplicaof(b, src)
		// larder loads a fork's snapshot straight from the socket into the
		// empty node; a bare replica does the same with this setting.
		bareDiskless := timeBareReplicaof(b, src, "--repl-diskless-load", "on-empty-db")
		sync, m1 := timeFork(b, br, "bench", "bench-1g", src.URL("default", src.Password), keys)
		ha, m2 := timeFork(b, br, "bench", "bench-ha-1g", src.URL("default", src.Password), keys)
		cp, m3 := timeFork(b, br, "bench", "bench-1g", src.URL("nosync", "nosync-secret"), keys)
		if m1 != api.ForkMethodSync || m2 != api.ForkMethodSync || m3 != api.ForkMethodCopy {
			b.Fatalf("methods %s %s %s, want sync sync copy", m1, m2, m3)
		}
		report("bare-replicaof", bare)
		report("bare-replicaof-diskless", bareDiskless)
		report("fork-sync", sync)
		report("fork-sync-ha", ha)
		report("fork-copy", cp)
		b.ReportMetric(sync.Seconds()/bare.Seconds(), "sync/bare")
		b.ReportMetric(sync.Seconds()/bareDiskless.Seconds(), "sync/bare-diskless")
		b.Logf("bare REPLICAOF %v (diskless load %v); fork by SYNC %v (%.2f× bare, %.2f× diskless bare), into an HA pair %v; by SCAN/DUMP %v",
			bare.Round(time.Millisecond), bareDiskless.Round(time.Millisecond), sync.Round(time.Millisecond), sync.Seconds()/bare.Seconds(),
			sync.Seconds()/bareDiskless.Seconds(), ha.Round(time.Millisecond), cp.Round(time.Millisecond))
	}
}
