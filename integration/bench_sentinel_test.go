package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/internal/netns"
)

// minority is a client on the primary's side of a cut: it INCRs a counter
// on the node it was given every 10 ms; every reply is an acknowledged write.
type minority struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	last int
	done chan struct{}
}

func startMinority(tb testing.TB, ns *netns.NS, args ...string) *minority {
	m := &minority{done: make(chan struct{})}
	m.cmd = ns.Exec(append([]string{"redis-cli", "--no-auth-warning"}, append(args, "-r", "100000", "-i", "0.01", "INCR", "minority")...)...)
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer close(m.done)
		s := bufio.NewScanner(out)
		for s.Scan() {
			if n, err := strconv.Atoi(strings.TrimSpace(s.Text())); err == nil {
				m.mu.Lock()
				m.last = n
				m.mu.Unlock()
			}
		}
	}()
	tb.Cleanup(func() { m.cmd.Process.Kill(); m.cmd.Wait() })
	return m
}

// acked returns the last acknowledged counter value and stops the client.
func (m *minority) stop() int {
	m.cmd.Process.Kill()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

func (m *minority) value() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// BenchmarkSentinelHostCut: the same cut as BenchmarkHostCutFailover, on a
// plain primary + replica watched by three Redis Sentinels (one per location,
// quorum 2, down-after 5000 ms, failover-timeout 60 s). The writer resolves
// the primary through the sentinels. Reports the writer's recovery time,
// acknowledged writes lost by the writer, and acknowledged INCRs lost by a
// client on the old primary's side of the cut (unfenced: the old primary
// takes writes until it is demoted after the heal).
func BenchmarkSentinelHostCut(b *testing.B) {
	netns.RequireRoot(b)
	if engineErr != nil {
		b.Skip(engineErr)
	}
	for i := 0; i < b.N; i++ {
		const peer = "198.18.2.1"
		dir := b.TempDir()
		s1 := netns.New(b, "s1", "198.18.2.31", peer)
		s2 := netns.New(b, "s2", "198.18.2.32", peer)
		serve := func(ns *netns.NS, name string, extra ...string) {
			d := filepath.Join(dir, name)
			os.MkdirAll(d, 0o700)
			args := append([]string{"redis-server", "--port", "6379", "--bind", ns.IP, "--protected-mode", "no", "--save", "",
				"--appendonly", "yes", "--dir", d, "--repl-diskless-sync-delay", "0"}, extra...)
			cmd := ns.Exec(args...)
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		}
		serve(s1, "s1")
		serve(s2, "s2", "--replicaof", s1.IP, "6379")
		var sentinels []string
		for j := 0; j < 3; j++ {
			ns := netns.New(b, fmt.Sprintf("sl%d", j+1), fmt.Sprintf("198.18.2.%d", 41+j), peer)
			conf := filepath.Join(dir, fmt.Sprintf("sentinel%d.conf", j))
			os.WriteFile(conf, []byte(fmt.Sprintf("port 26379\nbind %s\nprotected-mode no\ndir %s\nsentinel monitor m %s 6379 2\n"+
				"sentinel down-after-milliseconds m 5000\nsentinel failover-timeout m 60000\n", ns.IP, dir, s1.IP)), 0o600)
			cmd := ns.Exec("redis-server", conf, "--sentinel")
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			sentinels = append(sentinels, ns.IP+":26379")
		}
		ctx := context.Background()
		master := func() string {
			for _, s := range sentinels {
				sc := redis.NewSentinelClient(&redis.Options{Addr: s, DialerRetries: 1, DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
				addr, err := sc.GetMasterAddrByName(ctx, "m").Result()
				sc.Close()
				if err == nil && len(addr) == 2 {
					return addr[0] + ":" + addr[1]
				}
			}
			return ""
		}
		WaitFor(b, 30*time.Second, "sentinels see the replica", func() error {
			for _, s := range sentinels {
				sc := redis.NewSentinelClient(&redis.Options{Addr: s})
				r, err := sc.Replicas(ctx, "m").Result()
				sc.Close()
				if err != nil || len(r) == 0 {
					return fmt.Errorf("%s: %v", s, err)
				}
			}
			return nil
		})
		// The writer: SET seq:i through the sentinels' current primary.
		var mu sync.Mutex
		var acked []int
		var maxGap time.Duration
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var c *redis.Client
			last := time.Now()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if c == nil {
					addr := master()
					if addr == "" {
						continue
					}
					c = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
				}
				if err := c.Set(ctx, fmt.Sprintf("seq:%d", i), i, 0).Err(); err != nil {
					c.Close()
					c = nil
					continue
				}
				now := time.Now()
				mu.Lock()
				acked = append(acked, i)
				if g := now.Sub(last); g > maxGap {
					maxGap = g
				}
				mu.Unlock()
				last = now
			}
		}()
		waitFor := func(n int) {
			mu.Lock()
			base := len(acked)
			mu.Unlock()
			WaitFor(b, 60*time.Second, "writes", func() error {
				mu.Lock()
				defer mu.Unlock()
				if len(acked) < base+n {
					return fmt.Errorf("%d", len(acked)-base)
				}
				return nil
			})
		}
		waitFor(500)
		m := startMinority(b, s1, "-h", s1.IP, "-p", "6379")
		WaitFor(b, 5*time.Second, "minority client writing", func() error {
			if m.value() == 0 {
				return fmt.Errorf("no INCR yet")
			}
			return nil
		})
		s1.Cut()
		WaitFor(b, 60*time.Second, "sentinel failover", func() error {
			if addr := master(); !strings.HasPrefix(addr, s2.IP) {
				return fmt.Errorf("master %s", addr)
			}
			return nil
		})
		waitFor(500)
		close(stop)
		<-done
		atCut := m.value()
		s1.Heal()
		// The old primary is demoted once the sentinels see it again.
		WaitFor(b, 60*time.Second, "old primary demoted", func() error {
			c := redis.NewClient(&redis.Options{Addr: s1.IP + ":6379"})
			defer c.Close()
			r, err := c.Do(ctx, "ROLE").Slice()
			if err != nil || len(r) == 0 || r[0] != "slave" {
				return fmt.Errorf("role %v %v", r, err)
			}
			return nil
		})
		minorityAcked := m.stop()
		nc := redis.NewClient(&redis.Options{Addr: s2.IP + ":6379"})
		lost := 0
		for _, k := range acked {
			if v, err := nc.Get(ctx, fmt.Sprintf("seq:%d", k)).Result(); err == redis.Nil || (err == nil && v != strconv.Itoa(k)) {
				lost++
			}
		}
		final, _ := nc.Get(ctx, "minority").Int()
		nc.Close()
		b.ReportMetric(float64(maxGap.Milliseconds()), "recovery-ms")
		b.ReportMetric(float64(lost), "acked-lost")
		b.ReportMetric(float64(max(minorityAcked-final, 0)), "minority-acked-lost")
		b.Logf("sentinel: minority client had %d INCRs acked at the cut, %d by the demotion; %d survive", atCut, minorityAcked, final)
	}
}
