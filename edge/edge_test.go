package edge

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// route is a route to n on loopback ports chosen by the kernel.
func routeTo(id string, n *node, epoch int64) Route {
	return Route{ID: id, Plain: "127.0.0.1:0", Backend: n.Addr, Epoch: epoch}
}

func TestPlainThroughTheEdge(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	if err := e.Apply([]Route{routeTo("a1", n, 1)}); err != nil {
		t.Fatalf("Apply() error = %v", err)
	}
	addr := stats(t, e, "a1").PlainAddr
	ctx := context.Background()

	c := newClient(t, addr, n.Pass, nil)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through the edge: %v", err)
	}
	big := strings.Repeat("x", 1<<20) // larger than any socket buffer: many splices
	if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatalf("SET 1 MB through the edge: %v", err)
	}
	if got, err := c.Get(ctx, "big").Result(); err != nil || got != big {
		t.Fatalf("GET big = %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
	host, port := hostPort(t, addr)
	if got := redisCLI(t, "-h", host, "-p", port, "-a", n.Pass, "GET", "k"); got != "v" {
		t.Errorf("redis-cli GET k = %q, want v", got)
	}
	if got := redisCLI(t, "-h", host, "-p", port, "-a", "wrong", "PING"); !strings.Contains(got, "WRONGPASS") {
		t.Errorf("redis-cli with a wrong password = %q, want the node's WRONGPASS", got)
	}
	if s := stats(t, e, "a1"); s.Accepted < 3 {
		t.Errorf("Accepted = %d, want ≥ 3", s.Accepted)
	}
}

func TestTLSThroughTheEdge(t *testing.T) {
	n := startNode(t)
	ca, certs := testCA(t)
	e := newEdge(t, Config{Certs: certs})
	r := routeTo("a1", n, 1)
	r.TLS = "127.0.0.1:0"
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatalf("Apply() error = %v", err)
	}
	addr := stats(t, e, "a1").TLSAddr
	ctx := context.Background()
	c := newClient(t, addr, n.Pass, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through the TLS edge: %v", err)
	}
	host, port := hostPort(t, addr)
	if got := redisCLI(t, "--tls", "--cacert", ca.CertPath, "-h", host, "-p", port, "-a", n.Pass, "GET", "k"); got != "v" {
		t.Errorf("redis-cli --tls GET k = %q, want v", got)
	}
	// Without trusting larder's CA the handshake fails: the edge proves
	// nothing to a client that does not know the CA.
	if got := redisCLI(t, "--tls", "-h", host, "-p", port, "-a", n.Pass, "PING"); got == "PONG" {
		t.Errorf("redis-cli --tls without --cacert answered PONG; want a certificate error")
	}
}

// Both directions of a plain connection go through splice(2): Go keeps a
// pipe per splice in progress, so an open connection that has carried
// bytes each way holds two pipes (four descriptors).
func TestPlainConnectionsSplice(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	if err := e.Apply([]Route{routeTo("a1", n, 1)}); err != nil {
		t.Fatal(err)
	}
	addr := stats(t, e, "a1").PlainAddr
	// Earlier tests leave idle pipes in Go's pool; collecting it twice
	// drops them and their finalizers close them.
	waitFor(t, 5*time.Second, func() error {
		runtime.GC()
		if n := pipes(t); n != inheritedPipes {
			return errorf("%d pipe descriptors open before the test, want the %d the process started with", n, inheritedPipes)
		}
		return nil
	})
	const conns = 5
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := roundTrip(t, c, "AUTH "+n.Pass+"\r\n"); got != "+OK\r\n" {
			t.Fatalf("AUTH = %q", got)
		}
	}
	waitFor(t, 5*time.Second, func() error {
		if got := pipes(t) - inheritedPipes; got != 4*conns {
			return errorf("%d pipe descriptors open, want %d (2 splices per connection)", got, 4*conns)
		}
		return nil
	})
}

// inheritedPipes is the number of pipes the test process started with
// (go test's stdout and stderr), -1 where /proc/self/fd is missing.
var inheritedPipes = pipes(nil)

func pipes(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if t == nil {
			return -1
		}
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(l, "pipe:") {
			n++
		}
	}
	return n
}

func roundTrip(t *testing.T, c net.Conn, req string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return line
}

// A client that half-closes after its command still gets the reply, and
// the edge then closes both sides (no goroutine waits on a dead pair).
func TestHalfClose(t *testing.T) {
	for _, framed := range []bool{false, true} {
		t.Run(map[bool]string{false: "splice", true: "framed"}[framed], func(t *testing.T) {
			n := startNode(t)
			e := newEdge(t, Config{Framed: framed})
			if err := e.Apply([]Route{routeTo("a1", n, 1)}); err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", stats(t, e, "a1").PlainAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("AUTH " + n.Pass + "\r\nPING\r\n"))
			c.(*net.TCPConn).CloseWrite()
			var got strings.Builder
			buf := make([]byte, 64)
			for {
				k, err := c.Read(buf)
				got.Write(buf[:k])
				if err != nil {
					break
				}
			}
			if got.String() != "+OK\r\n+PONG\r\n" {
				t.Errorf("replies after a half-close = %q, want +OK +PONG", got.String())
			}
			waitFor(t, 5*time.Second, func() error {
				if o := stats(t, e, "a1").Open; o != 0 {
					return errorf("%d connections open after both sides closed", o)
				}
				return nil
			})
			if framed {
				if got := stats(t, e, "a1").Commands; got != 2 {
					t.Errorf("Commands = %d, want 2", got)
				}
			}
		})
	}
}

// A connection the node closes (CLIENT KILL, its idle timeout, a credential
// rotation) is closed at the edge at once, both sides, as if the client had
// been talking to the node: an idle client holding it does not keep it
// counted against the route's limit.
func TestNodeCloseEndsTheConnection(t *testing.T) {
	for _, framed := range []bool{false, true} {
		t.Run(map[bool]string{false: "splice", true: "framed"}[framed], func(t *testing.T) {
			n := startNode(t)
			e := newEdge(t, Config{Framed: framed})
			rt := routeTo("a1", n, 1)
			rt.MaxConns = 1
			if err := e.Apply([]Route{rt}); err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", stats(t, e, "a1").PlainAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("AUTH " + n.Pass + "\r\nCLIENT SETNAME held\r\n"))
			r := bufio.NewReader(c)
			for range 2 {
				if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
					t.Fatalf("reply %q, %v", line, err)
				}
			}
			if err := n.client(t).Do(context.Background(), "CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal").Err(); err != nil {
				t.Fatal(err)
			}
			// The client reads nothing more and writes nothing: the edge
			// alone must let go of the connection.
			waitFor(t, 5*time.Second, func() error {
				if o := stats(t, e, "a1").Open; o != 0 {
					return errorf("%d connections open after the node closed its side", o)
				}
				return nil
			})
			if got := newClient(t, stats(t, e, "a1").PlainAddr, n.Pass, nil).Ping(context.Background()).Err(); got != nil {
				t.Errorf("a new connection within the limit of 1: %v", got)
			}
		})
	}
}
