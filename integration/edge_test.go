package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/internal/netns"
	"larder/internal/pki"
)

// caFile is the CA the broker's edge certificate comes from.
func caFile(b *Broker) string { return filepath.Join(b.DataDir, "ca", "ca.crt") }

// tlsClient is a go-redis client of a rediss:// URL trusting caPath.
func tlsClient(t *testing.T, rawURL, caPath string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caPath)
	}
	opt.TLSConfig = &tls.Config{RootCAs: pool, ServerName: opt.TLSConfig.ServerName, MinVersion: tls.VersionTLS12}
	opt.DialTimeout, opt.ReadTimeout = 2*time.Second, 2*time.Second
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// redisCLI runs redis-cli with args and returns its output, trimmed.
func redisCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"--no-auth-warning"}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestEdgePlainAndTLS: an add-on's URLs name the edge, plain and TLS;
// go-redis and redis-cli (--tls --cacert) are served through both; the
// credentials show the TLS URL and the CA; a plain client on the TLS port
// and a malformed hello leave the edge serving.
func TestEdgePlainAndTLS(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	vars := configVars(t, b, "web")
	plain, secure := vars["REDIS_URL"], vars["REDIS_TLS_URL"]
	if !strings.HasPrefix(plain, "redis://default:") || !strings.HasPrefix(secure, "rediss://default:") {
		t.Fatalf("vars = %v; want REDIS_URL and REDIS_TLS_URL", vars)
	}
	for _, u := range []string{plain, secure} {
		if err := onEdge(t, b, u); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(b.DataDir, "ca", "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v, %v; want mode 0600", fi, err)
	}

	c := redisClient(t, plain)
	if err := c.Set(ctx, "through", "the edge", 0).Err(); err != nil {
		t.Fatalf("SET through the plain edge: %v", err)
	}
	tc := tlsClient(t, secure, caFile(b))
	if got, err := tc.Get(ctx, "through").Result(); err != nil || got != "the edge" {
		t.Fatalf("GET through the TLS edge = %q, %v", got, err)
	}
	if out, err := redisCLI(t, "-u", secure, "--tls", "--cacert", caFile(b), "get", "through"); err != nil || out != "the edge" {
		t.Fatalf("redis-cli --tls --cacert: %q, %v", out, err)
	}
	if out, err := redisCLI(t, "-u", plain, "get", "through"); err != nil || out != "the edge" {
		t.Fatalf("redis-cli plain: %q, %v", out, err)
	}

	r := b.MustLarder("redis:credentials", "-a", "web", "--tls")
	if got := strings.TrimSpace(r.Stdout); got != secure {
		t.Errorf("redis:credentials --tls = %q, want REDIS_TLS_URL", got)
	}
	r = b.MustLarder("redis:credentials", "-a", "web")
	if strings.TrimSpace(r.Stdout) != plain || !strings.Contains(r.Stderr, "--cacert "+caFile(b)) {
		t.Errorf("redis:credentials: stdout %q, stderr %q; want the URL, and the CA's path", r.Stdout, r.Stderr)
	}
	pem, _ := os.ReadFile(caFile(b))
	if r := b.MustLarder("redis:credentials", "-a", "web", "--ca"); r.Stdout != string(pem) {
		t.Errorf("redis:credentials --ca = %q, want %s", r.Stdout, caFile(b))
	}

	// Bad clients on the TLS port: a plain one, and a malformed hello.
	if out, err := redisCLI(t, "-u", strings.Replace(secure, "rediss://", "redis://", 1), "ping"); err == nil && out == "PONG" {
		t.Errorf("a plain client on the TLS port was served")
	}
	tlsAddr := strings.SplitN(secure, "@", 2)[1]
	conn, err := (&tls.Dialer{}).DialContext(ctx, "tcp", tlsAddr) // untrusted: the handshake fails
	if err == nil {
		conn.Close()
		t.Errorf("a client that does not trust larder's CA completed a handshake")
	}
	if out, err := exec.Command("sh", "-c", fmt.Sprintf(`printf '\026\003\001\000\005garbage' | redis-cli -h %s -p %s ping`,
		strings.Split(tlsAddr, ":")[0], strings.Split(tlsAddr, ":")[1])).CombinedOutput(); err == nil && strings.Contains(string(out), "PONG") {
		t.Errorf("a malformed hello was served: %s", out)
	}
	if got, err := tc.Get(ctx, "through").Result(); err != nil || got != "the edge" {
		t.Errorf("after bad clients, GET through the TLS edge = %q, %v", got, err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("after bad clients, PING through the plain edge: %v", err)
	}

	// 1 000 connections opened and dropped at once leave it serving.
	edgeHost := strings.SplitN(plain, "@", 2)[1]
	var conns []net.Conn
	for i := 0; i < 1000; i++ {
		if conn, err := net.DialTimeout("tcp", edgeHost, 2*time.Second); err == nil {
			conns = append(conns, conn)
		}
	}
	for _, conn := range conns {
		conn.Close()
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("after 1000 dropped connections, PING: %v", err)
	}
}

// TestEdgeAllowlistFromNamespaces: clients on another network are refused
// with Render's text until the add-on's allowlist takes their network in;
// bad CIDRs change nothing; a removal cuts an open connection at once.
func TestEdgeAllowlistFromNamespaces(t *testing.T) {
	netns.RequireRoot(t)
	const peer = "198.18.2.1"
	out := netns.New(t, "eout", "198.18.2.71", peer)
	in := netns.New(t, "ein", "198.18.2.72", peer)
	b := NewBroker(t, "LARDER_EDGE_LISTEN=0.0.0.0", "LARDER_EDGE_HOST="+peer)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	rawURL := configVars(t, b, "web")["REDIS_URL"]
	if !strings.Contains(rawURL, "@"+peer+":") {
		t.Fatalf("REDIS_URL = %s; want it to name --edge-host %s", rawURL, peer)
	}
	from := func(ns *netns.NS) *redis.Client {
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		opt.Dialer, opt.MaxRetries, opt.DialTimeout, opt.ReadTimeout = ns.DialContext, -1, 2*time.Second, 2*time.Second
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		return c
	}
	const denied = "AUTH failed: Client IP address is not in the allowlist."
	outside, inside := from(out), from(in)
	for _, c := range []*redis.Client{outside, inside} {
		if err := c.Ping(ctx).Err(); err == nil || err.Error() != denied {
			t.Fatalf("a client outside the default list got %v, want %q", err, denied)
		}
	}
	// redis-cli from inside the namespace reads the same words.
	if o, _ := out.Exec("redis-cli", "--no-auth-warning", "-u", rawURL, "ping").CombinedOutput(); !strings.Contains(string(o), denied) {
		t.Errorf("redis-cli from outside the list: %q, want %q", o, denied)
	}

	r := b.MustLarder("redis:allowlist", "-a", "web", "--add", in.IP)
	if !strings.Contains(r.Stdout, "10.0.0.0/8\n") || !strings.Contains(r.Stdout, in.IP+"/32\n") {
		t.Fatalf("allowlist after --add = %q; want the default list and %s/32", r.Stdout, in.IP)
	}
	WaitFor(t, 10*time.Second, "the edge to let the namespace in", func() error { return inside.Ping(ctx).Err() })
	if err := outside.Ping(ctx).Err(); err == nil || err.Error() != denied {
		t.Errorf("the other namespace got %v after the change, want %q", err, denied)
	}
	local := redisClient(t, nodeURL(t, rawURL, "127.0.0.1", portOf(t, rawURL)))
	if err := local.Ping(ctx).Err(); err != nil {
		t.Errorf("loopback, in the default list, cut off by the first --add: %v", err)
	}

	// Bad input: refused with the reason, nothing changed.
	for _, bad := range [][]string{{"--add", "198.18.2.71/24"}, {"--add", "office"}, {"--remove", "198.18.2.71"}} {
		r := b.Larder(append([]string{"redis:allowlist", "-a", "web"}, bad...)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "198.18.2") && !strings.Contains(r.Stderr, "office") {
			t.Errorf("redis:allowlist %v: code %d, stderr %q; want a refusal naming the entry", bad, r.Code, r.Stderr)
		}
	}
	if r := b.Larder("redis:allowlist", "-a", "web", "--add", "198.18.2.71/24"); !strings.Contains(r.Stderr, "did you mean 198.18.2.0/24?") {
		t.Errorf("bits after the prefix: stderr %q, want the CIDR meant", r.Stderr)
	}
	if r := b.Larder("redis:allowlist", "no-such-addon", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "no-such-addon") {
		t.Errorf("an unknown add-on: code %d, stderr %q", r.Code, r.Stderr)
	}
	if err := outside.Ping(ctx).Err(); err == nil || err.Error() != denied {
		t.Errorf("after refused changes, the other namespace got %v", err)
	}

	// An open connection whose network leaves the list is cut at once.
	conn := inside.Conn()
	defer conn.Close()
	if err := conn.ClientSetName(ctx, "held").Err(); err != nil {
		t.Fatal(err)
	}
	b.MustLarder("redis:allowlist", "-a", "web", "--remove", in.IP)
	WaitFor(t, 10*time.Second, "the open connection to be cut", func() error {
		if err := conn.Ping(ctx).Err(); err == nil {
			return fmt.Errorf("still served")
		}
		return nil
	})
	if err := inside.Ping(ctx).Err(); err == nil || err.Error() != denied {
		t.Errorf("after --remove, a new connection got %v, want %q", err, denied)
	}
}

// edgeProc is a `larder edge` process following b's store.
type edgeProc struct {
	t    *testing.T
	args []string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func startEdgeProc(t *testing.T, b *Broker, extra ...string) *edgeProc {
	t.Helper()
	e := &edgeProc{t: t, args: append([]string{"edge", "--data-dir", b.DataDir, "--poll", "50ms", "--log-level", "debug",
		"--edge-ports", fmt.Sprintf("%d-%d", b.EdgePorts[0], b.EdgePorts[1])}, extra...)}
	t.Cleanup(e.kill)
	e.start()
	return e
}

func (e *edgeProc) start() {
	e.t.Helper()
	e.logs = &syncBuffer{}
	e.cmd = exec.Command(larderBin, e.args...)
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.done = make(chan struct{})
	go func() { e.cmd.Wait(); close(e.done) }()
	WaitFor(e.t, 20*time.Second, "larder edge ready", func() error {
		select {
		case <-e.done:
			e.t.Fatalf("larder edge exited:\n%s", e.logs.String())
		default:
		}
		if !strings.Contains(e.logs.String(), "larder edge ready") {
			return fmt.Errorf("not ready")
		}
		return nil
	})
}

func (e *edgeProc) stop() {
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(20 * time.Second):
		e.t.Errorf("larder edge did not stop on SIGTERM")
		e.cmd.Process.Kill()
		<-e.done
	}
}

func (e *edgeProc) kill() {
	select {
	case <-e.done:
	default:
		e.cmd.Process.Kill()
		<-e.done
	}
	if e.t.Failed() {
		e.t.Logf("edge log:\n%s", e.logs.String())
	}
}

// writeCert has ca issue a certificate for 127.0.0.1 into certFile and
// keyFile, and returns its serial number.
func writeCert(t *testing.T, ca *pki.CA, certFile, keyFile string) string {
	t.Helper()
	cert, err := ca.Issue([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, c := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert.Leaf.SerialNumber.String()
}

// servedSerial is the serial number of the certificate a new TLS
// connection to addr is given.
func servedSerial(addr string, ca *pki.CA) (string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// TestEdgeServerRole: `larder edge` serves the URLs of a broker started
// with --no-edge, with an operator's certificate; clients connected while
// it restarts reconnect by themselves; SIGHUP serves a new certificate
// without dropping connections, and a bad file is refused with the one in
// use kept; a bad certificate at start is a clear error.
func TestEdgeServerRole(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreate(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "edge.crt"), filepath.Join(dir, "edge.key")
	serial1 := writeCert(t, ca, certFile, keyFile)
	// The broker takes the edge's flags too: its URLs, and no CA of its own
	// to show with the credentials.
	b := NewBroker(t, "LARDER_NO_EDGE=1", "LARDER_EDGE_CERT="+certFile, "LARDER_EDGE_KEY="+keyFile)

	// Bad input at start: clear errors, no edge.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--edge-cert", filepath.Join(dir, "missing.crt"), "--edge-key", keyFile}, "missing.crt"},
		{[]string{"--edge-cert", certFile}, "--edge-cert and --edge-key go together"},
		{[]string{"--edge-listen", "localhost"}, `invalid --edge-listen "localhost"`},
	} {
		cmd := exec.Command(larderBin, append([]string{"edge", "--data-dir", b.DataDir, "--edge-ports", fmt.Sprintf("%d-%d", b.EdgePorts[0], b.EdgePorts[1])}, tt.args...)...)
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("larder edge %v: %v, %q; want an error saying %q", tt.args, err, out, tt.want)
		}
	}

	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	vars := configVars(t, b, "web")
	if err := onEdge(t, b, vars["REDIS_URL"]); err != nil {
		t.Fatal(err)
	}
	if r := b.MustLarder("redis:credentials", "-a", "web"); strings.Contains(r.Stderr, "--cacert") {
		t.Errorf("credentials point at larder's CA although the edge serves an operator's certificate: %q", r.Stderr)
	}
	e := startEdgeProc(t, b, "--edge-cert", certFile, "--edge-key", keyFile)
	c := redisClient(t, vars["REDIS_URL"])
	WaitFor(t, 10*time.Second, "the edge to serve the add-on", func() error { return c.Set(ctx, "k", "v", 0).Err() })
	tc := tlsClient(t, vars["REDIS_TLS_URL"], ca.CertPath)
	if v, err := tc.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET through the TLS edge = %q, %v", v, err)
	}

	// SIGHUP: a new certificate for new connections; open ones stay.
	held := tc.Conn()
	defer held.Close()
	if err := held.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	tlsAddr := strings.SplitN(vars["REDIS_TLS_URL"], "@", 2)[1]
	serial2 := writeCert(t, ca, certFile, keyFile)
	e.cmd.Process.Signal(syscall.SIGHUP)
	WaitFor(t, 10*time.Second, "the new certificate served", func() error {
		if got, err := servedSerial(tlsAddr, ca); err != nil || got != serial2 {
			return fmt.Errorf("serial %s (%v), want %s (old %s)", got, err, serial2, serial1)
		}
		return nil
	})
	if err := held.Ping(ctx).Err(); err != nil {
		t.Errorf("a TLS connection open across SIGHUP was dropped: %v", err)
	}
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	e.cmd.Process.Signal(syscall.SIGHUP)
	WaitFor(t, 10*time.Second, "the reload refused", func() error {
		if !strings.Contains(e.logs.String(), "keeping the one in use") {
			return fmt.Errorf("no refusal logged")
		}
		return nil
	})
	if got, err := servedSerial(tlsAddr, ca); err != nil || got != serial2 {
		t.Errorf("after a bad file: serial %s (%v), want the one in use %s", got, err, serial2)
	}
	writeCert(t, ca, certFile, keyFile)

	// The edge restarts under connected clients: they reconnect by themselves.
	e.stop()
	e.start()
	WaitFor(t, 10*time.Second, "plain client back", func() error { return c.Ping(ctx).Err() })
	WaitFor(t, 10*time.Second, "TLS client back", func() error { return tc.Ping(ctx).Err() })

	// A switchover under a writer: the edge, in its own process, follows.
	w := startWriter(b, "web")
	waitAcked(t, w, 100)
	port0 := primaryPort(t, b, "web")
	b.MustLarder("redis:failover", "-a", "web")
	waitInSync(t, b, "web", func(h api.HAInfo) error {
		if primaryPort(t, b, "web") == port0 {
			return fmt.Errorf("primary still on port %d", port0)
		}
		return nil
	})
	waitAcked(t, w, 100)
	w.Stop()
	waitServedBy(t, vars["REDIS_URL"], primaryPort(t, b, "web"))
	if m := w.missing(t); m != 0 {
		t.Errorf("%d of %d acknowledged writes lost in the switchover", m, len(w.acked))
	}
	if urls := w.URLs(); len(urls) != 1 || urls[0] != vars["REDIS_URL"] {
		t.Errorf("the writer wrote to %v; want REDIS_URL unchanged", urls)
	}
}

// TestEdgeAssignedAtStart: an add-on from before the edge (no edge ports
// in the store) gets them when the broker starts: its URL moves to the
// edge once, an event says so, and the data is reached through it.
func TestEdgeAssignedAtStart(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	if err := redisClient(t, configVars(t, b, "web")["REDIS_URL"]).Set(ctx, "kept", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.DataDir, "larder.db")+"?_busy_timeout=5000&_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM edges`); err != nil { // as before migration 0010
		t.Fatal(err)
	}
	db.Close()
	b.Start()
	url := configVars(t, b, "web")["REDIS_URL"]
	if err := onEdge(t, b, url); err != nil {
		t.Fatal(err)
	}
	if v, err := redisClient(t, url).Get(ctx, "kept").Result(); err != nil || v != "yes" {
		t.Errorf("GET kept through the edge = %q, %v", v, err)
	}
	if k := eventKinds(t, b, "web"); k["edge.assigned"] != 1 {
		t.Errorf("events %v: want one edge.assigned", k)
	}
	b.Stop()
	b.Start()
	if again := configVars(t, b, "web")["REDIS_URL"]; again != url {
		t.Errorf("REDIS_URL changed on a second start: %s, want %s", again, url)
	}
	if k := eventKinds(t, b, "web"); k["edge.assigned"] != 1 {
		t.Errorf("events %v after a second start: want still one edge.assigned", k)
	}
}
