package edge

import (
	"errors"
	"larder/internal/backoff"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The two kinds of listener a route has, indexes of route.ln.
const (
	kindPlain = 0
	kindTLS   = 1
)

// listener accepts one route's connections of one kind. Its owner can
// change (a port moving from one route to another in one Apply), so the
// accept loop reads it for every connection.
type listener struct {
	spec    string // the address asked for (may have port 0)
	ln      *net.TCPListener
	tls     bool
	owner   atomic.Pointer[route]
	started bool // guarded by the owner's mu
}

// serve accepts until the listener is closed, backing off on errors such
// as running out of file descriptors rather than spinning.
func (l *listener) serve(e *Edge) {
	defer e.wg.Done()
	delay := backoff.New(5*time.Millisecond, time.Second)
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.WithError(err).WithField("listen", l.spec).Warn("edge accept failed")
			time.Sleep(delay.Next()) // nothing to wait on: the condition (free fds) has no event
			continue
		}
		delay.Reset()
		r := l.owner.Load()
		if r == nil || !r.track() {
			c.Close()
			continue
		}
		go r.serve(c, l.tls)
	}
}

// route is the live side of a Route: its listeners and open connections.
type route struct {
	e  *Edge
	id string

	mu     sync.Mutex
	cur    Route
	ln     [2]*listener
	conns  map[*conn]struct{}
	open   int // admitted connections (the limit counts these)
	closed bool

	accepted, denied, limited, tlsRefused, unavailable, cut, commands atomic.Uint64
}

func newRoute(e *Edge, id string) *route {
	return &route{e: e, id: id, conns: map[*conn]struct{}{}}
}

func (r *route) current() Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

func (r *route) listeners() [2]*listener {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ln
}

// track counts a connection goroutine in the edge's wait group unless the
// route is shut: Close must never wait on a goroutine added after it.
func (r *route) track() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.e.wg.Add(1)
	return true
}

// update moves the route to next, with the listeners the change opened or
// took over (nil: keep the current one, or none if next has no address of
// that kind), and cuts the open connections next no longer admits.
func (r *route) update(next Route, lns [2]*listener) {
	r.mu.Lock()
	var drop []*listener
	for k, addr := range [2]string{next.Plain, next.TLS} {
		old := r.ln[k]
		switch {
		case lns[k] != nil:
			r.ln[k] = lns[k]
		case addr == "":
			r.ln[k] = nil
		}
		if old != nil && old != r.ln[k] {
			drop = append(drop, old)
		}
		if l := r.ln[k]; l != nil && !l.started {
			l.started = true
			r.e.wg.Add(1)
			go l.serve(r.e)
		}
	}
	r.cur = next
	var cut []*conn
	for c := range r.conns {
		if !c.refused && refusal(next, c) != "" {
			cut = append(cut, c)
		}
	}
	r.mu.Unlock()
	r.closeListeners(drop)
	for _, c := range cut {
		r.e.log.WithFields(map[string]any{"addon": r.id, "client": c.ip, "reason": refusal(next, c)}).Debug("edge cut a connection")
		if c.cut() {
			r.cut.Add(1)
		}
	}
}

// shut closes the route's listeners and every connection.
func (r *route) shut() {
	r.mu.Lock()
	r.closed = true
	lns := r.ln
	r.ln = [2]*listener{}
	cs := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	r.closeListeners(lns[:])
	for _, c := range cs {
		c.cut()
	}
}

// closeListeners closes those of lns this route still owns: one taken over
// by another route lives on.
func (r *route) closeListeners(lns []*listener) {
	for _, l := range lns {
		if l != nil && l.owner.CompareAndSwap(r, nil) {
			l.ln.Close()
		}
	}
}

func (r *route) stats() RouteStats {
	r.mu.Lock()
	s := RouteStats{Route: r.cur, Open: r.open}
	s.Allow = slices.Clone(s.Allow)
	if l := r.ln[kindPlain]; l != nil {
		s.PlainAddr = l.ln.Addr().String()
	}
	if l := r.ln[kindTLS]; l != nil {
		s.TLSAddr = l.ln.Addr().String()
	}
	r.mu.Unlock()
	s.Accepted, s.Denied, s.Limited = r.accepted.Load(), r.denied.Load(), r.limited.Load()
	s.TLSRefused, s.Unavailable, s.Cut, s.Commands = r.tlsRefused.Load(), r.unavailable.Load(), r.cut.Load(), r.commands.Load()
	return s
}
