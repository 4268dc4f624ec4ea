package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/backup/internal/fixture"
	"larder/backup/scratch"
	"larder/internal/testkit"
)

// The backup user of the source nodes, with CaptureACL and nothing more.
const (
	backupUser     = "larder-backup"
	backupPassword = "backup-secret"
)

func requireEngine(tb testing.TB) string {
	tb.Helper()
	e, err := scratch.FindEngine()
	if err != nil {
		tb.Skipf("no engine: %v", err)
	}
	return e
}

// freePort returns a port of this package's own range (testkit.Backup).
func freePort(tb testing.TB) int {
	tb.Helper()
	return testkit.FreePort(tb, testkit.Backup)
}

// startNode starts an engine on a loopback port with a backup user; admin
// is its default user (full rights), capture its backup user.
func startNode(tb testing.TB, config ...string) (s *scratch.Server, admin, capture Node) {
	tb.Helper()
	requireEngine(tb)
	port := freePort(tb)
	conf := append([]string{"enable-debug-command yes", "user " + backupUser + " on >" + backupPassword + " " + CaptureACL}, config...)
	s, err := scratch.Start(context.Background(), scratch.Options{Port: port, Config: conf})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Stop() })
	admin = Node{Name: "node-" + strconv.Itoa(port), Addr: "127.0.0.1", Port: port, Password: s.Password}
	capture = admin
	capture.User, capture.Password = backupUser, backupPassword
	return s, admin, capture
}

// populated starts a node holding fixture's dataset.
func populated(tb testing.TB, config ...string) (*scratch.Server, Node, Node) {
	tb.Helper()
	s, admin, capture := startNode(tb, config...)
	fixture.Populate(tb, s.Client)
	return s, admin, capture
}

// sameData fails the test when two nodes do not serve the same keys with the
// same values and expiries, and the same function libraries.
func sameData(t *testing.T, want, got fixture.Clients) {
	t.Helper()
	wantKeys, wantFns := fixture.Read(t, want)
	gotKeys, gotFns := fixture.Read(t, got)
	if len(gotKeys) != len(wantKeys) {
		t.Errorf("the node serves %d keys, want %d", len(gotKeys), len(wantKeys))
	}
	for i := range min(len(gotKeys), len(wantKeys)) {
		if !reflect.DeepEqual(gotKeys[i], wantKeys[i]) {
			t.Errorf("key %d: got %+v\nwant %+v", i, gotKeys[i], wantKeys[i])
		}
	}
	if !reflect.DeepEqual(gotFns, wantFns) {
		t.Errorf("functions = %q, want %q", gotFns, wantFns)
	}
}

// capture takes a backup of node into a new archive file.
func capture(t *testing.T, node Node) (string, *Manifest) {
	t.Helper()
	path := t.TempDir() + "/backup.tar.gz"
	m, err := Capture(context.Background(), node, Meta{AddonID: "a-1", AddonName: "redis-test-1", Plan: "premium-0", Role: "standby"}, path, CaptureOptions{})
	if err != nil {
		t.Fatalf("Capture() error = %v", err)
	}
	return path, m
}

// openFile opens a file for the test's duration.
func openFile(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// members reads an archive with the standard library: its files by name.
func members(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = data
	}
}

// repack builds an archive with the standard library from an RDB and a
// manifest (none when nil), as a tampered copy would be made.
func repack(t *testing.T, rdbData, manifest []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		data []byte
	}{{RDBFile, rdbData}, {ManifestFile, manifest}} {
		if f.data == nil {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// plainServer runs `redis-server --dir DIR --dbfilename dump.rdb` exactly as
// the README tells users to (plus a port), and returns its clients.
func plainServer(t *testing.T, dir string) fixture.Clients {
	t.Helper()
	engine := requireEngine(t)
	port := freePort(t)
	cmd := exec.Command(engine, "--dir", dir, "--dbfilename", "dump.rdb", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	clients := func(db int) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DB: db, Protocol: 2, DisableIdentity: true})
	}
	waitFor(t, 30*time.Second, func() error {
		select {
		case <-done:
			t.Fatalf("redis-server exited: %s", out.String())
		default:
		}
		c := clients(0)
		defer c.Close()
		return c.Ping(context.Background()).Err()
	})
	return clients
}

var waitFor = testkit.WaitFor

// snapshotRunning says whether the node is making a snapshot (the fork of
// a full sync or of a SAVE in the background).
func snapshotRunning(c *redis.Client) error {
	info, err := c.Info(context.Background(), "persistence").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "rdb_bgsave_in_progress:1") {
		return errors.New("no snapshot in progress")
	}
	return nil
}

// waitSnapshot waits until the node is making a snapshot.
func waitSnapshot(tb testing.TB, c *redis.Client) {
	tb.Helper()
	waitFor(tb, time.Minute, func() error { return snapshotRunning(c) })
}
