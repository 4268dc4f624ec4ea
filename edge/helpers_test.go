package edge

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/internal/pki"
	"larder/internal/testkit"
)

// The test binary doubles as a client run inside a network namespace:
// EDGE_TEST_HOLD=ADDR PASS connects, authenticates, prints "ready", then
// waits and prints "closed" once the edge closes the connection.
// EDGE_BENCH_IDLE holds idle connections for the benchmark (holdIdle).
func TestMain(m *testing.M) {
	if spec := os.Getenv("EDGE_TEST_HOLD"); spec != "" {
		addr, pass, _ := strings.Cut(spec, " ")
		os.Exit(hold(addr, pass))
	}
	if spec := os.Getenv("EDGE_BENCH_IDLE"); spec != "" {
		os.Exit(holdIdleConns(spec))
	}
	os.Exit(m.Run())
}

func hold(addr, pass string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	fmt.Fprintf(c, "AUTH %s\r\nPING\r\n", pass)
	r := bufio.NewReader(c)
	for _, want := range []string{"+OK\r\n", "+PONG\r\n"} {
		line, err := r.ReadString('\n')
		if line != want {
			fmt.Printf("read %q, %v\n", line, err)
			return 1
		}
	}
	fmt.Println("ready")
	_, err = r.ReadString('\n') // the edge cuts us: EOF or reset
	fmt.Println("closed", err)
	return 0
}

// freePort returns a port of this package's own range (testkit.Edge).
func freePort(tb testing.TB) int {
	tb.Helper()
	return testkit.FreePort(tb, testkit.Edge)
}

var waitFor = testkit.WaitFor

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// node is a real redis-server on loopback with a password.
type node struct {
	Addr    string
	Port    int
	Pass    string
	TLSAddr string // "" unless started with TLS
	cmd     *exec.Cmd
}

// startNode runs redis-server in a temp dir; tlsFiles (cert, key, ca)
// opens its TLS port too.
func startNode(tb testing.TB, tlsFiles ...string) *node {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Skip("redis-server is not installed (make engine)")
	}
	dir := tb.TempDir()
	pw := make([]byte, 12)
	rand.Read(pw)
	n := &node{Port: freePort(tb), Pass: hex.EncodeToString(pw)}
	n.Addr = loopback(n.Port)
	args := []string{"--port", strconv.Itoa(n.Port), "--bind", "127.0.0.1", "--requirepass", n.Pass,
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "log"),
		"--maxclients", "5000"}
	if len(tlsFiles) == 3 {
		tp := freePort(tb)
		n.TLSAddr = loopback(tp)
		args = append(args, "--tls-port", strconv.Itoa(tp), "--tls-cert-file", tlsFiles[0],
			"--tls-key-file", tlsFiles[1], "--tls-ca-cert-file", tlsFiles[2], "--tls-auth-clients", "no")
	}
	n.cmd = exec.Command("redis-server", args...)
	if err := n.cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(func() { n.cmd.Process.Kill(); n.cmd.Wait() })
	c := n.client(tb)
	defer c.Close()
	waitFor(tb, 10*time.Second, func() error { return c.Ping(context.Background()).Err() })
	return n
}

// client is a go-redis client straight to the node.
func (n *node) client(tb testing.TB) *redis.Client {
	return newClient(tb, n.Addr, n.Pass, nil)
}

// port reports which node answers on a client: its tcp_port.
func nodePort(ctx context.Context, c *redis.Client) (int, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "tcp_port:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("no tcp_port in INFO")
}

func newClient(tb testing.TB, addr, pass string, tc *tls.Config) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: pass, TLSConfig: tc, Protocol: 2,
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, MaxRetries: -1})
	tb.Cleanup(func() { c.Close() })
	return c
}

// newEdge returns an edge closed at the test's end, checking that Close
// leaves no goroutine behind.
func newEdge(tb testing.TB, cfg Config) *Edge {
	e := New(cfg)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			tb.Errorf("edge Close() = %v", err)
		}
	})
	return e
}

// testCA is a CA in a temp dir, with a Certs for the edge on loopback.
func testCA(tb testing.TB) (*pki.CA, *Certs) {
	tb.Helper()
	ca, err := pki.LoadOrCreate(filepath.Join(tb.TempDir(), "ca"))
	if err != nil {
		tb.Fatal(err)
	}
	certs, err := CACerts(ca, []string{"localhost", "127.0.0.1", "::1"})
	if err != nil {
		tb.Fatal(err)
	}
	return ca, certs
}

// writePair writes cert's chain and key as PEM files in dir.
func writePair(tb testing.TB, dir string, cert *tls.Certificate) (certFile, keyFile string) {
	tb.Helper()
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "edge.crt"), filepath.Join(dir, "edge.key")
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}

// stats is Stats or a failed test.
func stats(tb testing.TB, e *Edge, id string) RouteStats {
	tb.Helper()
	s, err := e.Stats(id)
	if err != nil {
		tb.Fatalf("Stats(%s) error = %v", id, err)
	}
	return s
}

// firstReply dials addr (from local, when set), sends PING and returns
// the first line of the answer.
func firstReply(tb testing.TB, addr, local string) string {
	tb.Helper()
	d := net.Dialer{Timeout: 2 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("PING\r\n"))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line
}

// redisCLI runs redis-cli with args and returns its trimmed output.
func redisCLI(tb testing.TB, args ...string) string {
	tb.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		tb.Skip("redis-cli is not installed (make engine)")
	}
	out, _ := exec.Command("redis-cli", append([]string{"--no-auth-warning"}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func hostPort(tb testing.TB, addr string) (string, string) {
	tb.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return h, p
}

var errorf = fmt.Errorf
