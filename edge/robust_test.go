package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestConnectionLimit(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	r := routeTo("a1", n, 1)
	r.MaxConns = 2
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	addr := stats(t, e, "a1").PlainAddr
	ctx := context.Background()
	var held []*redis.Client // one connection each
	for range 2 {
		c := newClient(t, addr, n.Pass, nil)
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	if got := firstReply(t, addr, ""); got != ErrMaxConns {
		t.Errorf("the third client read %q, want exactly %q", got, ErrMaxConns)
	}
	if err := newClient(t, addr, n.Pass, nil).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "ERR max number of clients reached") {
		t.Errorf("go-redis as the third client: %v, want max number of clients reached", err)
	}
	// larder's own connections go to the node, not through the edge: the
	// node still takes them.
	if err := n.client(t).Ping(ctx).Err(); err != nil {
		t.Errorf("a direct connection to the node at the edge's limit: %v", err)
	}
	held[0].Close()
	waitFor(t, 5*time.Second, func() error {
		if o := stats(t, e, "a1").Open; o != 1 {
			return fmt.Errorf("Open = %d, want 1", o)
		}
		return nil
	})
	third := newClient(t, addr, n.Pass, nil)
	if err := third.Ping(ctx).Err(); err != nil {
		t.Errorf("a client once a slot is free: %v", err)
	}
	third.Close()
	// Lowering the limit keeps the connections open now (as the engine's
	// maxclients does) and applies to new ones.
	r.MaxConns = 1
	if err := e.Set(r); err != nil {
		t.Fatal(err)
	}
	if err := held[1].Ping(ctx).Err(); err != nil {
		t.Errorf("an open connection after the limit was lowered: %v", err)
	}
	if s := stats(t, e, "a1"); s.Limited < 2 || s.Cut != 0 {
		t.Errorf("Limited, Cut = %d, %d; want ≥ 2, 0", s.Limited, s.Cut)
	}
}

// A malformed TLS hello, a plain client on the TLS port and 1 000
// connections opened and dropped at once leave the edge serving, with no
// connection or goroutine left behind.
func TestEdgeSurvivesBadClients(t *testing.T) {
	n := startNode(t)
	ca, certs := testCA(t)
	e := newEdge(t, Config{Certs: certs, HandshakeTimeout: 2 * time.Second})
	r := Route{ID: "a1", Plain: "127.0.0.1:0", TLS: "127.0.0.1:0", Backend: n.Addr, Epoch: 1}
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	s := stats(t, e, "a1")
	ctx := context.Background()
	serving := func(t *testing.T) {
		t.Helper()
		for _, c := range []*redis.Client{
			newClient(t, s.PlainAddr, n.Pass, nil),
			newClient(t, s.TLSAddr, n.Pass, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}),
		} {
			err := c.Ping(ctx).Err()
			c.Close()
			if err != nil {
				t.Fatalf("PING through the edge: %v", err)
			}
		}
	}
	serving(t)
	baseline, fds := runtime.NumGoroutine(), fdCount(t)

	t.Run("malformed TLS hello", func(t *testing.T) {
		for _, hello := range []string{
			"\x16\x03\x01\x00\x05hello",                         // a handshake record too short for its hello
			"\x16\x03\x01\xff\xff" + strings.Repeat("\x00", 64), // a record header promising more than comes
			"\x15\x03\x03\x00\x02\x02\x28",                      // an alert instead of a hello
		} {
			c, err := net.Dial("tcp", s.TLSAddr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(hello))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			for err == nil {
				_, err = c.Read(buf) // the edge closes (perhaps after an alert)
			}
			c.Close()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("hello %q: the edge neither answered nor closed within 5s", hello)
			}
		}
		serving(t)
	})
	t.Run("plain client on the TLS port", func(t *testing.T) {
		host, port := hostPort(t, s.TLSAddr)
		got := redisCLI(t, "-h", host, "-p", port, "-a", n.Pass, "PING")
		if got == "PONG" {
			t.Errorf("redis-cli without TLS on the TLS port answered PONG")
		}
		serving(t)
	})
	t.Run("1000 connections dropped at once", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr := s.PlainAddr
				if i%4 == 0 {
					addr = s.TLSAddr
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return
				}
				if i%2 == 0 {
					c.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk")) // half a command
				}
				if i%3 == 0 {
					c.(*net.TCPConn).SetLinger(0) // a reset, not a FIN
				}
				c.Close()
			}()
		}
		wg.Wait()
		serving(t)
		waitFor(t, 10*time.Second, func() error {
			if o := stats(t, e, "a1").Open; o != 0 {
				return fmt.Errorf("%d connections open after all clients left", o)
			}
			if g := runtime.NumGoroutine(); g > baseline+5 {
				return fmt.Errorf("%d goroutines, %d before the connections came", g, baseline)
			}
			if k := fdCount(t); k > fds {
				return fmt.Errorf("%d descriptors open, %d before the connections came", k, fds)
			}
			return nil
		})
	})
}
