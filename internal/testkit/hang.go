package testkit

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Hanging is a loopback server that accepts connections and reads what is
// sent, but never answers: a broker stuck in a pause, for clients' timeouts.
type Hanging struct {
	URL  string       // http://127.0.0.1:PORT
	Took atomic.Int64 // connections accepted
}

// NewHanging starts a Hanging server, closed with its connections when the
// test ends.
func NewHanging(tb testing.TB) *Hanging {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := &Hanging{URL: "http://" + ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.Took.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, c) }()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return h
}
