package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.conf")
	for _, content := range []string{"first\n", "second\n"} {
		if err := Write(path, []byte(content), 0o600); err != nil {
			t.Fatalf("Write() error = %v", err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("content = %q, want %q", got, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("mode = %v, want %v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want 1 (no temp files left)", len(entries))
	}
	// Renaming over a directory fails; the temp file must not stay behind.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "sub"), []byte("x"), 0o600); err == nil {
		t.Errorf("Write() over a directory: error = nil, want one")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("dir holds %d entries after a failed write, want 2", len(entries))
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	tok, made, err := LoadOrCreateSecret(path)
	if err != nil || !made || len(tok) != 48 {
		t.Fatalf("LoadOrCreateSecret() = %q, %v, %v; want a fresh 48-char secret", tok, made, err)
	}
	again, made, err := LoadOrCreateSecret(path)
	if err != nil || made || again != tok {
		t.Errorf("second LoadOrCreateSecret() = %q, %v, %v; want the same secret, not made", again, made, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0ken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(filepath.Join(dir, "nodes", "a")); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	if tok, made, err := LoadOrCreateSecret(token); err != nil || made || tok != "t0ken" {
		t.Fatalf("LoadOrCreateSecret() = %q, %v, %v", tok, made, err)
	}
	if err := PrivateFile(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("PrivateFile(missing) error = %v, want nil", err)
	}
	for path, want := range map[string]os.FileMode{
		dir: 0o700, filepath.Join(dir, "nodes"): 0o700, filepath.Join(dir, "nodes", "a"): 0o700, token: 0o600,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
}
