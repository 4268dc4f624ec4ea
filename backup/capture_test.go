package backup

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"larder/backup/internal/fixture"
	"larder/fault"
)

// A capture's archive, extracted with tar and served by a plain
// `redis-server --dir DIR --dbfilename dump.rdb`, serves every key of the
// source with its type, value and expiry; its manifest describes it.
func TestCaptureExtractsAndServes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config []string
	}{
		{"diskless transfer (EOF mark)", nil},
		{"transfer of an RDB written to disk first (sized)", []string{"repl-diskless-sync no"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _, node := populated(t, tc.config...)
			path, m := capture(t, node)
			dir := t.TempDir()
			if out, err := exec.Command("tar", "-xzf", path, "-C", dir).CombinedOutput(); err != nil {
				t.Fatalf("tar -xzf: %v: %s", err, out)
			}
			for _, f := range []string{RDBFile, ManifestFile} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("the archive has no %s: %v", f, err)
				}
			}
			sameData(t, src.Client, plainServer(t, dir))

			keys, _ := fixture.Read(t, src.Client)
			if m.Keys != int64(len(keys)) || len(m.DBs) != 2 || m.DBs[1].DB != 3 || m.DBs[1].Keys != 2 || m.Functions != 1 {
				t.Errorf("manifest counts %d keys in %+v and %d functions, want %d keys in db0 and db3 (2), 1 function", m.Keys, m.DBs, m.Functions, len(keys))
			}
			if m.AddonID != "a-1" || m.AddonName != "redis-test-1" || m.Plan != "premium-0" || m.Source.Node != node.Name ||
				m.Source.Address != node.Address() || m.Source.Role != "standby" || m.Engine.Name == "" || m.Engine.Version == "" ||
				m.StartedAt.IsZero() || m.FinishedAt.Before(m.StartedAt) {
				t.Errorf("manifest = %+v", m)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("archive mode = %v, %v; want 0600", fi.Mode(), err)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("the archive's directory holds %d entries, want the archive alone", len(entries))
			}
		})
	}
}

// The capture needs no more than CaptureACL: a user without PSYNC is told
// which rights it lacks, and a wrong password is named as such.
func TestCaptureRefusals(t *testing.T) {
	_, admin, node := startNode(t, "user nosync on >pw -@all +replconf +ping")
	for _, tc := range []struct {
		name string
		node Node
		kind fault.Kind
		want string
	}{
		{"wrong password", Node{Name: node.Name, Addr: node.Addr, Port: node.Port, User: backupUser, Password: "nope"},
			fault.Unauthorized, "refused the backup user's credentials"},
		{"no PSYNC right", Node{Name: node.Name, Addr: node.Addr, Port: node.Port, User: "nosync", Password: "pw"},
			fault.Unauthorized, "may not run PSYNC (it needs the ACL \"-@all +psync +replconf +ping\")"},
		{"nobody listening", Node{Name: "gone", Addr: "127.0.0.1", Port: freePort(t)}, fault.Unavailable, "cannot connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Capture(context.Background(), tc.node, Meta{}, filepath.Join(dir, "b.tar.gz"), CaptureOptions{})
			if fault.KindOf(err) != tc.kind || !strings.Contains(fault.Message(err), tc.want) {
				t.Fatalf("Capture() error = %v (%s), want %s saying %q", err, fault.KindOf(err), tc.kind, tc.want)
			}
			if strings.Contains(err.Error(), "nope") || strings.Contains(err.Error(), admin.Password) {
				t.Errorf("error %q holds a password", err)
			}
			fixture.Empty(t, dir, "a failed capture")
		})
	}
}

// While a capture streams (each key's save slowed down), the node keeps
// answering writes, and the archive holds the point in time the capture
// started at: it verifies.
func TestCaptureWhileWriting(t *testing.T) {
	src, _, node := populated(t, "rdb-key-save-delay 20000") // 20 ms per key
	c := src.Client(0)
	defer c.Close()
	ctx := context.Background()
	before, _ := fixture.Read(t, src.Client)
	type result struct {
		path string
		m    *Manifest
		err  error
	}
	done := make(chan result, 1)
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	go func() {
		m, err := Capture(ctx, node, Meta{}, path, CaptureOptions{})
		done <- result{path, m, err}
	}()
	// Wait for the fork that streams the snapshot, then write while it runs.
	waitSnapshot(t, c)
	var writes atomic.Int64
	for i := range 50 {
		if err := c.Set(ctx, "during-capture", i, 0).Err(); err != nil {
			t.Fatalf("a write during the capture failed: %v", err)
		}
		writes.Add(1)
	}
	if err := snapshotRunning(c); err != nil {
		t.Fatalf("the snapshot ended before the writes did (%v); the writes proved nothing", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Capture() error = %v", r.err)
	}
	if r.m.Keys != int64(len(before)) {
		t.Errorf("the snapshot holds %d keys, want the %d it started with (not the key written during it)", r.m.Keys, len(before))
	}
	if _, err := Verify(ctx, openFile(t, r.path), VerifyOptions{}); err != nil {
		t.Errorf("Verify() error = %v", err)
	}
}

// A full disk fails the capture with a clear error and leaves nothing
// behind, and the node is unharmed.
func TestCaptureOnFullDisk(t *testing.T) {
	dir := fixture.SmallDisk(t)
	src, _, node := startNode(t)
	c := src.Client(0)
	defer c.Close()
	ctx := context.Background()
	// 4 MB of values that neither the engine nor gzip can shrink.
	fillRandom(t, c, 4096, 1024)
	_, err := Capture(ctx, node, Meta{}, filepath.Join(dir, "b.tar.gz"), CaptureOptions{})
	if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "no space left on the device") {
		t.Fatalf("Capture() error = %v, want unavailable: no space left on the device", err)
	}
	fixture.Empty(t, dir, "the capture that filled the disk")
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 4096 {
		t.Errorf("DBSIZE after the failed capture = %d, %v; want 4096", n, err)
	}
}

// fillRandom writes n keys of size random bytes each.
func fillRandom(tb testing.TB, c *redis.Client, n, size int) {
	tb.Helper()
	ctx := context.Background()
	pipe := c.Pipeline()
	for i := range n {
		v := make([]byte, size)
		rand.Read(v)
		pipe.Set(ctx, fmt.Sprintf("k%d", i), v, 0)
		if pipe.Len() == 1000 || i == n-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}
}
