package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/fault"
)

// ErrStaleEpoch marks a route update refused because it carries an older
// epoch than the edge holds, or the same epoch with another backend: the
// edge never forwards to a node chosen under an older epoch.
// It is a fault.Conflict.
var ErrStaleEpoch = fault.E(fault.Conflict, "stale epoch")

// Config tunes an Edge. Zero values take the defaults in brackets.
type Config struct {
	Log   *logrus.Entry // [discard]
	Certs *Certs        // the TLS server certificate; nil: no route may have a TLS address

	DialTimeout      time.Duration // connecting to a backend [2s]
	HandshakeTimeout time.Duration // a client's TLS handshake [10s]
	// HalfCloseTimeout bounds how long one direction may go on after the
	// other ended with a clean half-close [10s].
	HalfCloseTimeout time.Duration
	// KeepAlive applies to both sides of every connection, so a vanished
	// client or node is noticed [idle 60s, interval 10s, 6 probes].
	KeepAlive net.KeepAliveConfig
	// Framed copies client requests through the RESP scanner instead of
	// splicing them, so the edge knows every command boundary (and counts
	// commands). It is the path that keeping connections open through a
	// switchover will take; see the package doc for its cost.
	Framed bool

	// pooled copies plain connections both ways through pooled buffers,
	// two goroutines each, instead of the event loop: what framing both
	// directions costs before any parsing. Only the benchmark sets it, as
	// an anchor.
	pooled bool
}

func (c *Config) setDefaults() {
	if c.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Log = logrus.NewEntry(l)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.HalfCloseTimeout == 0 {
		c.HalfCloseTimeout = 10 * time.Second
	}
	if c.KeepAlive == (net.KeepAliveConfig{}) {
		c.KeepAlive = net.KeepAliveConfig{Enable: true, Idle: 60 * time.Second, Interval: 10 * time.Second, Count: 6}
	}
}

// Edge proxies client connections to each add-on's current primary. Its
// routes change only through Apply, Set and Remove, which the daemon calls
// whenever the store says something changed.
type Edge struct {
	cfg    Config
	log    *logrus.Entry
	tlsCfg *tls.Config

	mu     sync.Mutex // serialises changes of routes
	routes map[string]*route
	closed bool

	wg    sync.WaitGroup // accept loops and connections
	loops loops          // the event loops of plain connections
}

// New returns an edge with no routes.
func New(cfg Config) *Edge {
	cfg.setDefaults()
	e := &Edge{cfg: cfg, log: cfg.Log, routes: map[string]*route{}}
	e.loops.cfg = &e.cfg
	if cfg.Certs != nil {
		e.tlsCfg = &tls.Config{GetCertificate: cfg.Certs.getCertificate, MinVersion: tls.VersionTLS12}
	}
	return e
}

// Apply makes routes the edge's whole state: listeners open for new routes
// and close for routes left out, and changed routes take effect at once
// for new and open connections. Invalid input (a bad address, a duplicate
// id or address, a TLS address without a certificate) or a port that cannot
// be opened is an error, and nothing changes. A route whose epoch is older
// than the one held (or equal, with another backend) is left as held and
// named in an error wrapping ErrStaleEpoch; the other routes are applied.
func (e *Edge) Apply(routes []Route) error {
	return e.change(routes, true)
}

// Set adds a route or updates the one with its id, as Apply does for one
// route; the others are left alone.
func (e *Edge) Set(r Route) error {
	return e.change([]Route{r}, false)
}

// Remove closes the route's listeners and its open connections. An unknown
// id is a fault.NotFound.
func (e *Edge) Remove(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.routes[id]
	if !ok {
		return fault.E(fault.NotFound, "no route for add-on %s at the edge", id)
	}
	delete(e.routes, id)
	r.shut()
	return nil
}

// Reload reads the TLS certificate again (the daemon calls it on SIGHUP).
// Open connections keep theirs; a bad file is an error and the certificate
// in use stays.
func (e *Edge) Reload() error {
	if e.cfg.Certs == nil {
		return nil
	}
	return e.cfg.Certs.Reload()
}

// Close closes every listener and connection and waits, until ctx ends,
// for their goroutines to finish. Clients reconnect to the next edge.
func (e *Edge) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	for id, r := range e.routes {
		r.shut()
		delete(e.routes, id)
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.wg.Wait() // the loops report their connections' ends
		e.loops.stop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close edge: %w", ctx.Err())
	}
}

// RouteStats is one route's state and counters.
type RouteStats struct {
	Route
	PlainAddr, TLSAddr string // where the listeners are bound ("" for none)
	Open               int    // client connections open now
	Accepted           uint64 // connections proxied to a backend
	Denied             uint64 // refused by the allowlist
	Limited            uint64 // refused by the connection limit
	TLSRefused         uint64 // plain connections refused by TLSOnly
	Unavailable        uint64 // closed because no backend was set or reachable
	Cut                uint64 // open connections closed by a route change
	Commands           uint64 // commands forwarded (Framed only)
}

// Stats returns the route's state and counters; an unknown id is a
// fault.NotFound.
func (e *Edge) Stats(id string) (RouteStats, error) {
	e.mu.Lock()
	r, ok := e.routes[id]
	e.mu.Unlock()
	if !ok {
		return RouteStats{}, fault.E(fault.NotFound, "no route for add-on %s at the edge", id)
	}
	return r.stats(), nil
}

// change validates every route, opens the listeners they need, and only
// then commits; full says that routes left out are removed.
func (e *Edge) change(routes []Route, full bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fault.E(fault.Unavailable, "the edge is closed")
	}
	if err := e.check(routes); err != nil {
		return err
	}
	var stale []string
	var plan []*pending
	given := map[string]bool{}
	for _, nr := range routes {
		nr.Allow = slices.Clone(nr.Allow) // the edge's own copy: the caller may reuse its slice
		given[nr.ID] = true
		r := e.routes[nr.ID]
		if r != nil {
			cur := r.current()
			if cur.equal(nr) {
				continue
			}
			if msg := fence(cur, nr); msg != "" {
				stale = append(stale, msg)
				continue
			}
		}
		plan = append(plan, &pending{r: r, next: nr})
	}
	// The state after the change must not have two routes on one address.
	final := map[string]Route{}
	for id, r := range e.routes {
		if given[id] || !full {
			final[id] = r.current()
		}
	}
	for _, p := range plan {
		final[p.next.ID] = p.next
	}
	if err := uniqueAddrs(final); err != nil {
		return err
	}
	if err := e.listen(plan); err != nil {
		return err
	}
	e.commit(plan, given, full)
	if len(stale) > 0 {
		sort.Strings(stale)
		return fmt.Errorf("%w: %s", ErrStaleEpoch, strings.Join(stale, "; "))
	}
	return nil
}

// pending is one route to change: the route object (nil for a new one),
// its next state, and the listeners it gets.
type pending struct {
	r    *route
	next Route
	lns  [2]*listener
}

// commit makes the change: listeners change owners before any route closes
// the ones it no longer needs, so a port moved from one route to another
// is never closed on the way.
func (e *Edge) commit(plan []*pending, given map[string]bool, full bool) {
	for _, p := range plan {
		if p.r == nil {
			p.r = newRoute(e, p.next.ID)
			e.routes[p.next.ID] = p.r
		}
		for _, l := range p.lns {
			if l != nil {
				l.owner.Store(p.r)
			}
		}
	}
	for _, p := range plan {
		p.r.update(p.next, p.lns)
	}
	if full {
		for id, r := range e.routes {
			if !given[id] {
				delete(e.routes, id)
				r.shut()
			}
		}
	}
}

// fence refuses an update whose epoch is older than held, or equal with
// another backend (every change of primary bumps the epoch).
func fence(cur, next Route) string {
	switch {
	case next.Epoch < cur.Epoch:
		return fmt.Sprintf("route %s: epoch %d is older than the edge's %d", next.ID, next.Epoch, cur.Epoch)
	case next.Epoch == cur.Epoch && next.Backend != cur.Backend:
		return fmt.Sprintf("route %s: backend %s under epoch %d, which already chose %s", next.ID, next.Backend, next.Epoch, cur.Backend)
	}
	return ""
}

// check validates the given routes: each one, ids unique, and TLS
// addresses only with a certificate.
func (e *Edge) check(routes []Route) error {
	ids := map[string]bool{}
	for _, r := range routes {
		if err := r.validate(); err != nil {
			return err
		}
		if ids[r.ID] {
			return fault.E(fault.Invalid, "route %s is given twice", r.ID)
		}
		ids[r.ID] = true
		if r.TLS != "" && e.tlsCfg == nil {
			return fault.E(fault.Invalid, "route %s has a TLS address but the edge has no certificate", r.ID)
		}
	}
	return nil
}

// uniqueAddrs refuses two routes (or one route's two kinds) on one fixed
// listen address.
func uniqueAddrs(routes map[string]Route) error {
	ids := make([]string, 0, len(routes))
	for id := range routes {
		ids = append(ids, id)
	}
	sort.Strings(ids) // the error names the same pair every time
	seen := map[string]string{}
	for _, id := range ids {
		r := routes[id]
		for _, addr := range []string{r.Plain, r.TLS} {
			if addr == "" || anyPort(addr) {
				continue
			}
			if other, ok := seen[addr]; ok {
				return fault.E(fault.Invalid, "routes %s and %s both listen on %s", other, id, addr)
			}
			seen[addr] = id
		}
	}
	return nil
}

// listen finds or opens the listeners the plan needs: a route keeps its
// own, takes over one another route gives up on the same address and kind,
// or opens a new one. On any failure it closes those it opened, and
// nothing has changed.
func (e *Edge) listen(plan []*pending) (err error) {
	held := map[string]*listener{}
	for _, r := range e.routes {
		for _, l := range r.listeners() {
			if l != nil && !anyPort(l.spec) {
				held[l.spec] = l
			}
		}
	}
	var opened []*listener
	defer func() {
		if err != nil {
			for _, l := range opened {
				l.ln.Close()
			}
		}
	}()
	for _, p := range plan {
		var own [2]*listener
		if p.r != nil {
			own = p.r.listeners()
		}
		for k, addr := range [2]string{p.next.Plain, p.next.TLS} {
			switch l := held[addr]; {
			case addr == "" || (own[k] != nil && own[k].spec == addr):
				continue
			case l != nil && l.tls == (k == kindTLS):
				p.lns[k] = l
				continue
			case l != nil:
				return fault.E(fault.Invalid, "route %s: %s changes from plain to TLS or back in one change: remove the route first", p.next.ID, addr)
			}
			lc := net.ListenConfig{KeepAliveConfig: e.cfg.KeepAlive}
			ln, err := lc.Listen(context.Background(), "tcp", addr)
			if err != nil {
				return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("route %s: cannot listen on %s", p.next.ID, addr))
			}
			p.lns[k] = &listener{spec: addr, ln: ln.(*net.TCPListener), tls: k == kindTLS}
			opened = append(opened, p.lns[k])
		}
	}
	return nil
}
