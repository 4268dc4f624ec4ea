package edge

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"larder/fault"
)

// Bad input gets a clear error and changes nothing: the routes, their
// listeners and their connections stay as they were.
func TestApplyRefusesBadInput(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{}) // no certificate
	good := routeTo("a1", n, 1)
	good.Plain = loopback(freePort(t))
	if err := e.Apply([]Route{good}); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0") // a port someone else holds
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	changed := good
	changed.Backend, changed.Epoch = "127.0.0.1:1", 2
	fresh := routeTo("a2", n, 1)
	withAddr := func(addr string) Route { r := fresh; r.Plain = addr; return r }

	tests := []struct {
		name    string
		apply   func() error
		kind    fault.Kind
		wantErr string
	}{
		{"no id", func() error { return e.Apply([]Route{good, {Plain: "127.0.0.1:0"}}) }, fault.Invalid, "a route without an add-on id"},
		{"no address", func() error { return e.Apply([]Route{good, {ID: "a2"}}) }, fault.Invalid, "route a2 has neither a plain nor a TLS address"},
		{"bad listen address", func() error { return e.Apply([]Route{changed, withAddr("127.0.0.1")}) }, fault.Invalid, `route a2: plain address "127.0.0.1": address 127.0.0.1: missing port in address`},
		{"bad port", func() error { return e.Apply([]Route{changed, withAddr("127.0.0.1:99999")}) }, fault.Invalid, `route a2: plain address "127.0.0.1:99999": port "99999" is not a port number`},
		{"bad backend", func() error { r := fresh; r.Backend = "127.0.0.1:0"; return e.Apply([]Route{changed, r}) }, fault.Invalid, `route a2: backend "127.0.0.1:0": port "0" is not a port number`},
		{"bad CIDR", func() error {
			r := fresh
			r.Allow = []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 8)}
			return e.Apply([]Route{changed, r})
		}, fault.Invalid, `route a2: allowlist entry "10.0.0.1/8" is not a CIDR`},
		{"negative limit", func() error { r := fresh; r.MaxConns = -1; return e.Apply([]Route{changed, r}) }, fault.Invalid, "route a2: connection limit -1 is negative"},
		{"same id twice", func() error { return e.Apply([]Route{changed, good}) }, fault.Invalid, "route a1 is given twice"},
		{"same address twice", func() error { return e.Apply([]Route{changed, withAddr(good.Plain)}) }, fault.Invalid, "routes a1 and a2 both listen on " + good.Plain},
		{"address of a kept route", func() error { return e.Set(withAddr(good.Plain)) }, fault.Invalid, "routes a1 and a2 both listen on " + good.Plain},
		{"TLS without certificate", func() error { r := fresh; r.TLS = "127.0.0.1:0"; return e.Apply([]Route{changed, r}) }, fault.Invalid, "route a2 has a TLS address but the edge has no certificate"},
		{"port in use", func() error { return e.Apply([]Route{changed, withAddr(busy.Addr().String())}) }, fault.Unavailable, "route a2: cannot listen on " + busy.Addr().String()},
		{"unknown route removed", func() error { return e.Remove("nope") }, fault.NotFound, "no route for add-on nope at the edge"},
		{"unknown route's stats", func() error { _, err := e.Stats("nope"); return err }, fault.NotFound, "no route for add-on nope at the edge"},
	}
	before := stats(t, e, "a1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.apply()
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !errors.Is(err, tt.kind) {
				t.Fatalf("error = %v (kind %s), want %q of kind %s", err, fault.KindOf(err), tt.wantErr, tt.kind)
			}
			if got := stats(t, e, "a1"); !reflect.DeepEqual(got, before) {
				t.Errorf("a1 after a refused change = %+v, want %+v", got, before)
			}
			if _, err := e.Stats("a2"); !errors.Is(err, fault.NotFound) {
				t.Errorf("a2 exists after a refused change")
			}
		})
	}
	if err := newClient(t, good.Plain, n.Pass, nil).Ping(context.Background()).Err(); err != nil {
		t.Errorf("a1 after the refused changes: %v", err)
	}
}

// Apply is the whole state: routes left out go, with their listeners and
// connections; a port can move from one route to another in one Apply.
func TestApplyAddsMovesAndRemoves(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	p1, p2 := loopback(freePort(t)), loopback(freePort(t))
	a1, a2 := routeTo("a1", n, 1), routeTo("a2", n, 1)
	a1.Plain, a2.Plain = p1, p2
	if err := e.Apply([]Route{a1, a2}); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply([]Route{a1, a2}); err != nil {
		t.Fatalf("Apply(same state) = %v", err)
	}
	ctx := context.Background()
	c2 := newClient(t, p2, n.Pass, nil).Conn()
	defer c2.Close()
	if err := c2.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// a2 goes; a3 takes over a1's port in the same Apply; a1 gets another.
	a3 := routeTo("a3", n, 1)
	a3.Plain = p1
	a1.Plain = loopback(freePort(t))
	if err := e.Apply([]Route{a1, a3}); err != nil {
		t.Fatalf("Apply(move) = %v", err)
	}
	if _, err := e.Stats("a2"); !errors.Is(err, fault.NotFound) {
		t.Errorf("a2, left out of Apply, is still there")
	}
	if err := c2.Ping(ctx).Err(); err == nil {
		t.Errorf("a connection of the removed route still answers")
	}
	if _, err := net.Dial("tcp", p2); err == nil {
		t.Errorf("the removed route's port still accepts")
	}
	for id, addr := range map[string]string{"a1": a1.Plain, "a3": p1} {
		if got := stats(t, e, id).PlainAddr; got != addr {
			t.Errorf("%s listens on %s, want %s", id, got, addr)
		}
		if err := newClient(t, addr, n.Pass, nil).Ping(ctx).Err(); err != nil {
			t.Errorf("%s on %s: %v", id, addr, err)
		}
	}
	if err := e.Remove("a3"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", p1); err == nil {
		t.Errorf("the port of a removed route still accepts")
	}
}

// The edge keeps its own copy of a route's allowlist: a caller reusing its
// slice changes nothing at the edge.
func TestApplyCopiesTheAllowlist(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	r := routeTo("a1", n, 1)
	r.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if err := e.Set(r); err != nil {
		t.Fatal(err)
	}
	r.Allow[0] = netip.MustParsePrefix("203.0.113.0/24")
	s := stats(t, e, "a1")
	if got := s.Allow[0].String(); got != "127.0.0.0/8" {
		t.Fatalf("the edge's allowlist changed with the caller's slice: %s", got)
	}
	s.Allow[0] = netip.MustParsePrefix("203.0.113.0/24")
	if got := stats(t, e, "a1").Allow[0].String(); got != "127.0.0.0/8" {
		t.Errorf("the edge's allowlist changed with Stats' slice: %s", got)
	}
	if err := newClient(t, s.PlainAddr, n.Pass, nil).Ping(context.Background()).Err(); err != nil {
		t.Errorf("a loopback client: %v", err)
	}
}
