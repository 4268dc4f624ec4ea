package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/internal/pki"
)

// tlsServing is the serial number of the certificate a new TLS connection
// to addr gets.
func tlsServing(t *testing.T, addr string, roots *x509.CertPool) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// An operator's certificate is reloaded without dropping open connections;
// a bad file is refused and the certificate in use stays.
func TestReloadKeepsConnections(t *testing.T) {
	n := startNode(t)
	ca, err := pki.LoadOrCreate(filepath.Join(t.TempDir(), "operator-ca"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	issue := func() *tls.Certificate {
		c, err := ca.Issue([]string{"127.0.0.1"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := issue()
	certFile, keyFile := writePair(t, dir, first)
	certs, err := FileCerts(certFile, keyFile)
	if err != nil {
		t.Fatalf("FileCerts() error = %v", err)
	}
	e := newEdge(t, Config{Certs: certs})
	r := Route{ID: "a1", TLS: "127.0.0.1:0", Backend: n.Addr, Epoch: 1}
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	addr := stats(t, e, "a1").TLSAddr
	if got := tlsServing(t, addr, ca.Pool()); got != first.Leaf.SerialNumber.String() {
		t.Fatalf("serving serial %s, want the first certificate's", got)
	}
	ctx := context.Background()
	open := newClient(t, addr, n.Pass, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}).Conn()
	defer open.Close()
	if err := open.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	second := issue()
	writePair(t, dir, second)
	if err := e.Reload(); err != nil {
		t.Fatalf("Reload() error = %v", err)
	}
	if got := tlsServing(t, addr, ca.Pool()); got != second.Leaf.SerialNumber.String() {
		t.Errorf("after Reload serving serial %s, want the second certificate's", got)
	}
	if err := open.Ping(ctx).Err(); err != nil {
		t.Errorf("a connection open across Reload: %v", err)
	}

	for _, bad := range []struct {
		name, cert, key, wantErr string
	}{
		{"garbage certificate", "not a certificate", "", "failed to find any PEM data in certificate input"},
		{"key of another certificate", "", string(mustRead(t, keyFile)), "private key does not match public key"},
		{"missing file", "-", "", "no such file"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			writePair(t, dir, second)
			if bad.cert == "-" {
				os.Remove(certFile)
			} else if bad.cert != "" {
				os.WriteFile(certFile, []byte(bad.cert), 0o644)
			}
			if bad.key != "" {
				writePair(t, dir, issue())
				os.WriteFile(keyFile, []byte(bad.key), 0o600)
			}
			err := e.Reload()
			if err == nil || !strings.Contains(err.Error(), bad.wantErr) || !strings.Contains(err.Error(), certFile) {
				t.Fatalf("Reload() error = %v, want one naming %s and saying %q", err, certFile, bad.wantErr)
			}
			if got := tlsServing(t, addr, ca.Pool()); got != second.Leaf.SerialNumber.String() {
				t.Errorf("after a refused Reload serving serial %s, want the second certificate's", got)
			}
		})
	}
	if _, err := FileCerts(filepath.Join(dir, "none.crt"), keyFile); err == nil {
		t.Errorf("FileCerts(missing file) error = nil")
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TLSOnly: the plain port stays the add-on's and says why it refuses;
// turning it on cuts open plain connections, not TLS ones.
func TestTLSOnly(t *testing.T) {
	n := startNode(t)
	ca, certs := testCA(t)
	e := newEdge(t, Config{Certs: certs})
	r := Route{ID: "a1", Plain: "127.0.0.1:0", TLS: "127.0.0.1:0", Backend: n.Addr, Epoch: 1}
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	s := stats(t, e, "a1")
	ctx := context.Background()
	plain := newClient(t, s.PlainAddr, n.Pass, nil).Conn()
	defer plain.Close()
	secure := newClient(t, s.TLSAddr, n.Pass, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}).Conn()
	defer secure.Close()
	if err := plain.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := secure.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r.TLSOnly = true
	if err := e.Set(r); err != nil {
		t.Fatal(err)
	}
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Errorf("an open plain connection still answers under TLSOnly")
	}
	if err := secure.Ping(ctx).Err(); err != nil {
		t.Errorf("an open TLS connection under TLSOnly: %v", err)
	}
	if got := firstReply(t, s.PlainAddr, ""); got != ErrTLSOnly {
		t.Errorf("a plain client under TLSOnly read %q, want %q", got, ErrTLSOnly)
	}
	host, port := hostPort(t, s.PlainAddr)
	if got := redisCLI(t, "-h", host, "-p", port, "-a", n.Pass, "PING"); !strings.Contains(got, "accepts TLS connections only") {
		t.Errorf("redis-cli to the plain port under TLSOnly = %q", got)
	}
	if got := stats(t, e, "a1"); got.TLSRefused < 2 || got.Cut != 1 {
		t.Errorf("TLSRefused, Cut = %d, %d; want ≥ 2, 1", got.TLSRefused, got.Cut)
	}
}

// A certificate from larder's CA is issued again once it is due, by the
// next handshake, with no reload.
func TestCACertsRenewWhenDue(t *testing.T) {
	_, certs := testCA(t)
	first := certs.Current()
	if got, err := certs.getCertificate(nil); err != nil || got != first {
		t.Fatalf("getCertificate before renewal = %v, %v; want the current one", got, err)
	}
	certs.renew.Store(time.Now().Add(-time.Second).UnixNano())
	got, err := certs.getCertificate(nil)
	if err != nil || got == first || got.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Fatalf("getCertificate when due = %v, %v; want a new certificate", got, err)
	}
	if next := certs.renew.Load(); time.Unix(0, next).Before(time.Now().Add(issuedValidity / 2)) {
		t.Errorf("the next renewal is due at %v, want about two thirds of %v from now", time.Unix(0, next), issuedValidity)
	}
}
