package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"
)

// dialAuth opens a raw connection through the edge and authenticates it.
func dialAuth(t *testing.T, addr, pass string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "AUTH %s\r\n", pass)
	if line, err := r.ReadString('\n'); line != "+OK\r\n" {
		t.Fatalf("AUTH through the edge = %q, %v", line, err)
	}
	return c, r
}

// pattern fills p with the bytes of a large test value at offset off.
func pattern(p []byte, off int) {
	for i := range p {
		p[i] = byte((off + i) % 251)
	}
}

// setBig stores a size-byte value under key through c, streamed in
// chunks so the test holds no copy of it.
func setBig(t *testing.T, c net.Conn, r *bufio.Reader, key string, size int) {
	t.Helper()
	fmt.Fprintf(c, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n", len(key), key, size)
	chunk := make([]byte, 64<<10)
	for off := 0; off < size; off += len(chunk) {
		p := chunk[:min(len(chunk), size-off)]
		pattern(p, off)
		if _, err := c.Write(p); err != nil {
			t.Fatalf("SET %s: write at %d: %v", key, off, err)
		}
	}
	io.WriteString(c, "\r\n")
	if line, err := r.ReadString('\n'); line != "+OK\r\n" {
		t.Fatalf("SET %s = %q, %v", key, line, err)
	}
}

// startGet sends GET key and reads the bulk header, returning the length.
func startGet(t *testing.T, c net.Conn, r *bufio.Reader, key string) int {
	t.Helper()
	fmt.Fprintf(c, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 4 || line[0] != '$' {
		t.Fatalf("GET %s = %q, %v", key, line, err)
	}
	n, err := strconv.Atoi(line[1 : len(line)-2])
	if err != nil {
		t.Fatalf("GET %s header %q", key, line)
	}
	return n
}

// A 32 MB value through the edge to a client that reads slowly: the edge
// holds back (reads the node only as fast as the client drains), so its
// memory stays bounded, and every byte arrives intact.
func TestLargeValueToSlowReader(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	if err := e.Apply([]Route{routeTo("a1", n, 1)}); err != nil {
		t.Fatal(err)
	}
	c, r := dialAuth(t, stats(t, e, "a1").PlainAddr, n.Pass)
	const size = 32 << 20
	setBig(t, c, r, "big", size)

	runtime.GC()
	debug.FreeOSMemory()
	rss0, peak := rssKB(0), rssKB(0)
	if got := startGet(t, c, r, "big"); got != size {
		t.Fatalf("GET big is %d bytes, want %d", got, size)
	}
	buf, want := make([]byte, 16<<10), make([]byte, 16<<10)
	for off := 0; off < size; {
		k, err := r.Read(buf[:min(len(buf), size-off)])
		pattern(want[:k], off)
		if string(buf[:k]) != string(want[:k]) {
			t.Fatalf("GET big: the bytes at %d..%d differ from those stored", off, off+k)
		}
		off += k
		if err != nil {
			t.Fatalf("GET big: read at %d: %v", off, err)
		}
		if off%(1<<20) < k { // about every MB: note the memory, and pause (a slow reader)
			peak = max(peak, rssKB(0))
			time.Sleep(10 * time.Millisecond)
		}
	}
	if grown := peak - rss0; grown > 16<<10 {
		t.Errorf("the process grew by %d KB while 32 MB went through the edge to a slow reader; want the edge's buffers bounded (< 16 MB)", grown)
	}
}

// A route change during a transfer (the client is not reading, so the
// edge holds bytes for it) ends both sides at once and frees the client's
// slot under the route's limit.
func TestCutDuringTransfer(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	rt := routeTo("a1", n, 1)
	rt.MaxConns = 1
	if err := e.Apply([]Route{rt}); err != nil {
		t.Fatal(err)
	}
	addr := stats(t, e, "a1").PlainAddr
	c, r := dialAuth(t, addr, n.Pass)
	const size = 8 << 20
	setBig(t, c, r, "big", size)
	startGet(t, c, r, "big")
	if _, err := io.ReadFull(r, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	// The client stops reading; the switch to a new epoch cuts it.
	rt.Epoch = 2
	if err := e.Set(rt); err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the client was not cut: %v after %d bytes", err, got)
	}
	if got >= size-64<<10 {
		t.Errorf("the client read the whole value (%d bytes) after it was cut", got)
	}
	nc := n.client(t)
	waitFor(t, 5*time.Second, func() error {
		if s := stats(t, e, "a1"); s.Open != 0 || s.Cut != 1 {
			return fmt.Errorf("Open, Cut = %d, %d after the cut; want 0, 1", s.Open, s.Cut)
		}
		return noOtherClients(nc)
	})
	if err := newClient(t, addr, n.Pass, nil).Ping(context.Background()).Err(); err != nil {
		t.Errorf("a new client within the limit of 1 after the cut: %v", err)
	}
}

// Plain connections hold no goroutine (and no pipe) while open: the edge's
// event loops carry them.
func TestPlainConnectionsHoldNoGoroutine(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	if err := e.Apply([]Route{routeTo("a1", n, 1)}); err != nil {
		t.Fatal(err)
	}
	addr := stats(t, e, "a1").PlainAddr
	dialAuth(t, addr, n.Pass) // the loops start with the first connection
	base, basePipes := runtime.NumGoroutine(), pipes(t)
	const conns = 50
	for range conns {
		c, r := dialAuth(t, addr, n.Pass)
		io.WriteString(c, "PING\r\n")
		if line, err := r.ReadString('\n'); line != "+PONG\r\n" {
			t.Fatalf("PING = %q, %v", line, err)
		}
	}
	if g := runtime.NumGoroutine() - base; g > 5 {
		t.Errorf("%d goroutines more with %d open connections; want none per connection", g, conns)
	}
	if p := pipes(t) - basePipes; p != 0 {
		t.Errorf("%d pipe descriptors more with %d open connections, want 0", p, conns)
	}
}

// Close with open plain and TLS connections ends them all and leaves no
// goroutine and no descriptor of the edge behind.
func TestCloseWithOpenConnections(t *testing.T) {
	n := startNode(t)
	_, certs := testCA(t)
	goroutines, fds := runtime.NumGoroutine(), fdCount(t)
	e := New(Config{Certs: certs})
	r := routeTo("a1", n, 1)
	r.TLS = "127.0.0.1:0"
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	s := stats(t, e, "a1")
	var clients []net.Conn
	for range 20 {
		c, _ := dialAuth(t, s.PlainAddr, n.Pass)
		clients = append(clients, c)
	}
	tc, err := net.Dial("tcp", s.TLSAddr) // a TLS client in its handshake
	if err != nil {
		t.Fatal(err)
	}
	clients = append(clients, tc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	waitFor(t, 5*time.Second, func() error { // a goroutine that called Done may still be returning
		if g := runtime.NumGoroutine(); g > goroutines {
			return fmt.Errorf("%d goroutines after Close, %d before the edge", g, goroutines)
		}
		return nil
	})
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 16)); err == nil {
			t.Errorf("client %d read after Close; want its connection closed", i)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("client %d: the edge did not close its connection", i)
		}
		c.Close()
	}
	waitFor(t, 5*time.Second, func() error {
		if k := fdCount(t); k > fds {
			return fmt.Errorf("%d descriptors open after Close, %d before the edge", k, fds)
		}
		return nil
	})
}

// fdCount is the number of descriptors the process has open.
func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}
