package sqlite

import (
	"context"
	"larder/store"
	"larder/store/storetest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "larder.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpen_MigratesOnceAndReopens(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	apps, err := s2.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(apps), 1; got != want {
		t.Fatalf("apps after reopen = %d, want %d", got, want)
	}
	var mode string
	if err := s2.db.Get(&mode, `PRAGMA journal_mode`); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

// TestOpen_FilesArePrivate: the database and its -wal and -shm hold
// passwords: 0600 whatever the umask, and tightened when an older larder
// left them readable.
func TestOpen_FilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "larder.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(p), got)
			}
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	check("new store")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s.Close()
	check("store left readable by an older larder")
}

// TestConformance runs the store conformance suite on SQLite files.
func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func open(tb testing.TB) store.Store {
	s, _ := openTest(tb)
	return s
}

func BenchmarkListAddons(b *testing.B) { storetest.BenchmarkListAddons(b, open) }

func BenchmarkClaimPorts(b *testing.B) { storetest.BenchmarkClaimPorts(b, open) }
