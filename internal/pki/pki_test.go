package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateKeepsTheCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate() error = %v", err)
	}
	for name, want := range map[string]os.FileMode{KeyFile: 0o600, CertFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s mode = %v, %v; want %04o", name, fi.Mode().Perm(), err, want)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %04o, want 0700", fi.Mode().Perm())
	}
	again, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("second LoadOrCreate() error = %v", err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Errorf("second start made a new CA; want the same one")
	}
	if ca.CertPath != filepath.Join(dir, CertFile) {
		t.Errorf("CertPath = %q", ca.CertPath)
	}
}

func TestIssueVerifiesAgainstTheCA(t *testing.T) {
	ca, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]string{"edge.example", "127.0.0.1", "::1"}, time.Hour)
	if err != nil {
		t.Fatalf("Issue() error = %v", err)
	}
	for _, host := range []string{"edge.example", "127.0.0.1", "::1"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: ca.Pool()}); err == nil {
		t.Errorf("the certificate verifies for a host it was not issued for")
	}
	if _, err := ca.Issue(nil, time.Hour); err == nil {
		t.Errorf("Issue(no hosts) error = nil, want one")
	}
}

func TestLoadOrCreateRefusesBrokenDirs(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(t *testing.T, dir string)
		wantErr string
	}{
		{"certificate without key", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, KeyFile)) }, "has no key beside it"},
		{"key readable by others", func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, KeyFile), 0o644) }, "readable by others (mode 0644)"},
		{"garbage key", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, KeyFile), []byte("nope"), 0o600) }, "holds no PEM block"},
		{"garbage certificate", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, CertFile), []byte("nope"), 0o644) }, "no PEM certificate"},
		{"key of another CA", func(t *testing.T, dir string) {
			other := t.TempDir()
			if _, err := LoadOrCreate(other); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(filepath.Join(other, KeyFile))
			os.WriteFile(filepath.Join(dir, KeyFile), data, 0o600)
		}, "does not belong to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreate(dir); err != nil {
				t.Fatal(err)
			}
			tt.break_(t, dir)
			before, _ := os.ReadFile(filepath.Join(dir, CertFile))
			_, err := LoadOrCreate(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadOrCreate() error = %v, want one containing %q", err, tt.wantErr)
			}
			if after, _ := os.ReadFile(filepath.Join(dir, CertFile)); string(after) != string(before) {
				t.Errorf("a refused start changed %s", CertFile)
			}
		})
	}
}

// A crash between writing the key and the certificate leaves the key
// alone; the next start makes the certificate for that key.
func TestLoadOrCreateFinishesAHalfMadeCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, CertFile))
	again, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate() error = %v", err)
	}
	if !publicKeyEqual(again.Cert.PublicKey, ca.key.Public()) {
		t.Errorf("the new certificate is not for the kept key")
	}
}
