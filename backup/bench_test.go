package backup

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/backup/scratch"
)

// The backup benchmarks run on one primary + replica pair holding
// LARDER_BENCH_MB megabytes of values (default 64; the reported figure is
// for 1024), LARDER_BENCH_ROUNDS interleaved rounds each (default 3), and
// report medians, since the machine they run on is shared:
//
//	go test -run '^$' -bench Backup -benchtime 1x -timeout 60m ./backup/
//
// capture:  Capture from the replica vs `redis-cli --rdb` from it.
// restore:  Load into an empty node; Extract + an engine loading it; Verify.
// latency:  the primary's p99 under redis-benchmark, with and without
//
//	captures running from its replica (at least 5 rounds of
//	LARDER_BENCH_OPS requests, default 100000).
//
// At 1024 MB (1.07 M keys, a 591 MB RDB) on the shared 2-core reference
// machine, medians of 3 rounds: redis-cli --rdb 23.2 s, Capture 18.9 s
// (0.82×); Load 18.3 s, Extract + an engine loading it 15.3 s, Verify
// 24.3 s; primary p99 0.68 ms idle, 1.54 ms during captures (+0.86 ms).
func BenchmarkBackup(b *testing.B) {
	for _, tool := range []string{"redis-cli", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed", tool)
		}
	}
	p := newBenchPair(b, envInt("LARDER_BENCH_MB", 64))
	rounds := envInt("LARDER_BENCH_ROUNDS", 3)
	b.Run("capture", func(b *testing.B) { p.benchCapture(b, rounds) })
	b.Run("restore", func(b *testing.B) { p.benchRestore(b, rounds) })
	b.Run("latency", func(b *testing.B) { p.benchLatency(b, max(rounds, 5), envInt("LARDER_BENCH_OPS", 100_000)) })
}

type benchPair struct {
	primary, replica *scratch.Server
	pNode, rNode     Node   // admin users
	archive          string // where the capture benchmark leaves its archive
	rdbBytes         int64
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// newBenchPair starts a primary with mb megabytes of 1 KB values (half
// random, half a repeated text: the engine's LZF shrinks them somewhat) and
// a few collections, and a replica in sync with it, configured as larder's
// nodes are for replication (diskless, no delay).
func newBenchPair(b *testing.B, mb int) *benchPair {
	b.Helper()
	ctx := context.Background()
	primary, pNode, _ := startNode(b, "maxmemory 0")
	p := &benchPair{primary: primary, pNode: pNode, archive: filepath.Join(b.TempDir(), "b.tar.gz")}
	c := primary.Client(0)
	defer c.Close()
	start := time.Now()
	rng := rand.NewChaCha8([32]byte{1})
	text := []byte(strings.Repeat("larder backup benchmark ", 22))[:512]
	pipe := c.Pipeline()
	for i := range mb * 1024 {
		v := make([]byte, 1024)
		rng.Read(v[:512])
		copy(v[512:], text)
		if i%100 == 0 { // 1% collections: a hash of 20 fields, a zset of 20 members
			for j := range 20 {
				pipe.HSet(ctx, fmt.Sprintf("h:%d", i), fmt.Sprintf("f%d", j), v[j*25:j*25+25])
				pipe.ZAdd(ctx, fmt.Sprintf("z:%d", i), redis.Z{Score: float64(j), Member: string(v[j*25 : j*25+25])})
			}
		}
		pipe.Set(ctx, fmt.Sprintf("key:%d", i), v, 0)
		if pipe.Len() >= 1000 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled the primary with %d MB in %s", mb, time.Since(start).Round(time.Millisecond))
	replica, rNode, _ := startNode(b, fmt.Sprintf("replicaof 127.0.0.1 %d", pNode.Port), "masterauth "+pNode.Password)
	p.replica, p.rNode = replica, rNode
	rc := replica.Client(0)
	defer rc.Close()
	waitFor(b, 10*time.Minute, func() error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("the replica is not in sync yet")
		}
		return nil
	})
	return p
}

func (p *benchPair) benchCapture(b *testing.B, rounds int) {
	ctx := context.Background()
	dir := b.TempDir()
	var cli, ours, gz1 []float64
	var size0, size1 int64
	level1 := 1
	for b.Loop() {
		for r := range rounds {
			out := filepath.Join(dir, "cli.rdb")
			t0 := time.Now()
			cmd := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(p.rNode.Port), "--no-auth-warning",
				"-a", p.rNode.Password, "--rdb", out)
			if o, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("redis-cli --rdb: %v: %s", err, o)
			}
			cli = append(cli, time.Since(t0).Seconds())
			os.Remove(out)

			t0 = time.Now()
			m, err := Capture(ctx, p.rNode, Meta{}, p.archive, CaptureOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ours = append(ours, time.Since(t0).Seconds())
			p.rdbBytes = m.Files[0].Size
			size0 = fileSize(b, p.archive)

			// The same at gzip level 1, to show what compression costs.
			path1 := filepath.Join(dir, "gz1.tar.gz")
			t0 = time.Now()
			if _, err := Capture(ctx, p.rNode, Meta{}, path1, CaptureOptions{Compression: &level1}); err != nil {
				b.Fatal(err)
			}
			gz1 = append(gz1, time.Since(t0).Seconds())
			size1 = fileSize(b, path1)
			os.Remove(path1)
			b.Logf("round %d: redis-cli --rdb %.2fs, Capture %.2fs, Capture at gzip level 1 %.2fs (%d keys, RDB %d MB, archive %d MB, at level 1 %d MB)",
				r+1, cli[r], ours[r], gz1[r], m.Keys, p.rdbBytes>>20, size0>>20, size1>>20)
		}
	}
	b.ReportMetric(median(cli), "cli-s")
	b.ReportMetric(median(ours), "capture-s")
	b.ReportMetric(median(ours)/median(cli), "capture/cli")
	b.ReportMetric(median(gz1), "capture-gzip1-s")
	b.ReportMetric(float64(p.rdbBytes)/(1<<20), "rdb-MB")
	b.ReportMetric(float64(size1)/(1<<20), "archive-gzip1-MB")
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

func (p *benchPair) benchRestore(b *testing.B, rounds int) {
	if p.rdbBytes == 0 {
		b.Skip("needs the capture benchmark's archive")
	}
	ctx := context.Background()
	var load, extract, verify []float64
	for b.Loop() {
		for r := range rounds {
			dst, admin, _ := startNode(b, "maxmemory 0")
			t0 := time.Now()
			res, err := Load(ctx, openFile(b, p.archive), admin, LoadOptions{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			load = append(load, time.Since(t0).Seconds())
			dst.Stop()

			dir := b.TempDir()
			t0 = time.Now()
			if _, err := Extract(openFile(b, p.archive), dir); err != nil {
				b.Fatal(err)
			}
			s, err := scratch.Start(ctx, scratch.Options{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			extract = append(extract, time.Since(t0).Seconds())
			s.Stop()

			t0 = time.Now()
			if _, err := Verify(ctx, openFile(b, p.archive), VerifyOptions{Dir: b.TempDir()}); err != nil {
				b.Fatal(err)
			}
			verify = append(verify, time.Since(t0).Seconds())
			b.Logf("round %d: Load %.2fs (%d keys), Extract+start %.2fs, Verify %.2fs", r+1, load[r], res.Keys, extract[r], verify[r])
		}
	}
	b.ReportMetric(median(load), "load-s")
	b.ReportMetric(median(extract), "extract+start-s")
	b.ReportMetric(median(verify), "verify-s")
}

func (p *benchPair) benchLatency(b *testing.B, rounds, ops int) {
	var idle, busy []float64
	for b.Loop() {
		for r := range rounds {
			idle = append(idle, p.p99(b, ops))
			stop := p.captureLoop(b)
			busy = append(busy, p.p99(b, ops))
			captures := stop()
			b.Logf("round %d: primary p99 %.3f ms idle, %.3f ms during %d captures from the replica", r+1, idle[r], busy[r], captures)
		}
	}
	b.ReportMetric(median(idle), "p99-idle-ms")
	b.ReportMetric(median(busy), "p99-capture-ms")
	b.ReportMetric(median(busy)-median(idle), "p99-rise-ms")
}

// captureLoop captures from the replica over and over until the returned
// stop is called; it returns once the first snapshot is being made. stop
// returns the number of captures started.
func (p *benchPair) captureLoop(b *testing.B) (stop func() int) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := b.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			mu.Lock()
			n++
			mu.Unlock()
			path := filepath.Join(dir, "loop.tar.gz")
			Capture(ctx, p.rNode, Meta{}, path, CaptureOptions{})
			os.Remove(path)
		}
	}()
	rc := p.replica.Client(0)
	defer rc.Close()
	waitSnapshot(b, rc)
	return func() int {
		cancel()
		wg.Wait()
		return n
	}
}

// p99 runs redis-benchmark (GET and SET of 64-byte values over 100000 keys,
// 8 connections) against the primary and returns the worse of the two p99
// latencies, in ms.
func (p *benchPair) p99(b *testing.B, ops int) float64 {
	out, err := exec.Command("redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(p.pNode.Port), "-a", p.pNode.Password,
		"-t", "set,get", "-n", strconv.Itoa(ops), "-c", "8", "-d", "64", "-r", "100000", "--csv", "--precision", "3").Output()
	if err != nil {
		b.Fatalf("redis-benchmark: %v: %s", err, out)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(rows) < 3 {
		b.Fatalf("redis-benchmark output: %v: %s", err, out)
	}
	col := -1
	for i, h := range rows[0] {
		if h == "p99_latency_ms" {
			col = i
		}
	}
	if col < 0 {
		b.Fatalf("redis-benchmark output has no p99 column: %s", out)
	}
	worst := 0.0
	for _, row := range rows[1:] {
		v, err := strconv.ParseFloat(row[col], 64)
		if err != nil {
			b.Fatalf("redis-benchmark p99 %q: %v", row[col], err)
		}
		worst = max(worst, v)
	}
	return worst
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
