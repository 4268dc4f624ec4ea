package edge

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// refuseLinger bounds how long a refused client is given to read the
// error: the edge sends it, half-closes, and reads until the client closes
// (closing with unread input would send a reset that can destroy the
// error before the client reads it).
const refuseLinger = 2 * time.Second

// maxRefusals is how many requests of a refused client get the error.
const maxRefusals = 4

// conn is one client connection and, once dialed, its backend connection.
type conn struct {
	raw     *net.TCPConn
	ip      netip.Addr
	tls     bool
	via     Route // the route's state when it was admitted: its backend and epoch
	refused bool  // only here to be told why, then closed

	mu      sync.Mutex
	backend *net.TCPConn
	isCut   bool
}

// cut closes both sides at once (a route change, or the edge closing);
// the copy goroutines see their sockets closed and end. It reports whether
// this call did it.
func (c *conn) cut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isCut {
		return false
	}
	c.isCut = true
	c.raw.Close()
	if c.backend != nil {
		c.backend.Close()
	}
	return true
}

// attach records the backend connection, unless the connection was cut
// while it was being dialed (it must then not be used).
func (c *conn) attach(b *net.TCPConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isCut {
		return false
	}
	c.backend = b
	return true
}

// refusal says why route state rt does not admit c ("" if it does).
func refusal(rt Route, c *conn) string {
	switch {
	case !allows(rt.Allow, c.ip):
		return ErrDenied
	case rt.TLSOnly && !c.tls:
		return ErrTLSOnly
	case !c.refused && (rt.Epoch != c.via.Epoch || rt.Backend != c.via.Backend):
		return "primary changed"
	}
	return ""
}

// admit registers c and decides, under the route's lock, whether it is
// served: a change of route after this point sees c and can cut it.
func (r *route) admit(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.via = r.cur
	if msg := refusal(r.cur, c); msg != "" {
		c.refused = true
		if msg == ErrDenied {
			r.denied.Add(1)
		} else {
			r.tlsRefused.Add(1)
		}
	} else if r.cur.MaxConns > 0 && r.open >= r.cur.MaxConns {
		c.refused = true
		r.limited.Add(1)
	} else {
		r.open++
	}
	r.conns[c] = struct{}{}
}

func (r *route) release(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[c]; !ok {
		return
	}
	delete(r.conns, c)
	if !c.refused {
		r.open--
	}
}

// serve runs one client connection to its end.
func (r *route) serve(raw *net.TCPConn, isTLS bool) {
	defer r.e.wg.Done()
	c := &conn{raw: raw, ip: raw.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(), tls: isTLS}
	r.admit(c)
	defer func() {
		c.cut()
		r.release(c)
	}()
	log := r.e.log.WithFields(map[string]any{"addon": r.id, "client": c.ip})
	var client net.Conn = raw
	if isTLS {
		tc := tls.Server(raw, r.e.tlsCfg)
		ctx, cancel := context.WithTimeout(context.Background(), r.e.cfg.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			log.WithError(err).Debug("edge tls handshake failed")
			return
		}
		client = tc
	}
	if c.refused {
		msg := refusal(c.via, c)
		if msg == "" {
			msg = ErrMaxConns
		}
		refuse(client, raw, msg)
		return
	}
	if c.via.Backend == "" {
		r.unavailable.Add(1)
		return // a client sees a closed connection and retries, as when a node is down
	}
	d := net.Dialer{Timeout: r.e.cfg.DialTimeout, KeepAliveConfig: r.e.cfg.KeepAlive}
	bc, err := d.Dial("tcp", c.via.Backend)
	if err != nil {
		r.unavailable.Add(1)
		log.WithError(err).Debug("edge cannot reach the backend")
		return
	}
	b := bc.(*net.TCPConn)
	if !c.attach(b) {
		b.Close()
		return
	}
	r.accepted.Add(1)
	r.pipe(c, client, b)
}

// refuse answers each of the client's first few requests with msg, then
// half-closes and lingers until the client closes. Answering requests, not
// the bare connection, is what clients expect: go-redis sends HELLO, then
// AUTH when HELLO fails, and reports the second answer; a client that says
// nothing is told nothing. The linger lets the client read msg whatever
// else it sent: closing with unread input would send a reset that can
// destroy msg on the way.
func refuse(client net.Conn, raw *net.TCPConn, msg string) {
	client.SetDeadline(time.Now().Add(refuseLinger))
	var scan reqScanner
	buf := make([]byte, 1024)
	for answered := 0; answered < maxRefusals; {
		n, err := client.Read(buf)
		cmds, _ := scan.feed(buf[:n])
		if scan.broken {
			cmds = max(cmds, 1)
		}
		for ; cmds > 0 && answered < maxRefusals; cmds-- {
			if _, werr := io.WriteString(client, msg); werr != nil {
				return
			}
			answered++
		}
		if err != nil || scan.broken {
			break
		}
	}
	closeWrite(client, raw)
	io.Copy(io.Discard, io.LimitReader(client, 64<<10))
}

func closeWrite(c net.Conn, raw *net.TCPConn) {
	if tc, ok := c.(*tls.Conn); ok {
		tc.CloseWrite() // close_notify, then the FIN below
	}
	raw.CloseWrite()
}

// pipe copies both ways until both end. A client's clean end of its
// requests (EOF) is passed on as a half-close, and the replies get
// HalfCloseTimeout to finish. The node's end of its side ends the
// connection: what it sent and its end go to the client, then both sides
// close, as when the client talks to the node (which never half-closes:
// CLIENT KILL, its idle timeout, a credential rotation), so the connection
// stops counting against the route's limit at once. Any error ends both at
// once. Either way no goroutine outlives the connection.
func (r *route) pipe(c *conn, client net.Conn, b *net.TCPConn) {
	toBackend, toClient := r.copiers(c, client, b)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := toClient(); err == nil {
			closeWrite(client, c.raw)
		}
		c.cut()
	}()
	r.flow(c, toBackend, func() { b.CloseWrite() }, b)
	wg.Wait()
}

// flow runs one direction's copy; other is the source of the opposite
// direction, whose reads get the half-close deadline.
func (r *route) flow(c *conn, copy func() error, closeWrite func(), other net.Conn) {
	if err := copy(); err != nil {
		c.cut()
		return
	}
	closeWrite()
	other.SetReadDeadline(time.Now().Add(r.e.cfg.HalfCloseTimeout))
}

// copiers picks each direction's copy: splice between two TCP sockets
// (zero copy, no buffer in the process), the RESP scanner for requests when
// the edge is Framed, and buffers from a pool for TLS.
func (r *route) copiers(c *conn, client net.Conn, b *net.TCPConn) (toBackend, toClient func() error) {
	var scan *reqScanner
	if r.e.cfg.Framed {
		scan = &reqScanner{}
	}
	counted := func(n int) { r.commands.Add(uint64(n)) }
	switch {
	case c.tls:
		toBackend = func() error { return copyBuffered(b, client, scan, counted) }
		toClient = func() error { return copyPooled(client, b, nil, nil) }
	case scan != nil:
		toBackend = func() error { return copyPooled(b, c.raw, scan, counted) }
		toClient = func() error { return splice(c.raw, b) }
	case r.e.cfg.pooled:
		toBackend = func() error { return copyPooled(b, c.raw, nil, nil) }
		toClient = func() error { return copyPooled(c.raw, b, nil, nil) }
	default:
		toBackend = func() error { return splice(b, c.raw) }
		toClient = func() error { return splice(c.raw, b) }
	}
	return
}

// splice moves src's bytes to dst in the kernel (TCPConn.ReadFrom of a
// TCPConn is splice(2) on Linux) until EOF, which is a nil error.
func splice(dst, src *net.TCPConn) error {
	_, err := dst.ReadFrom(src)
	return err
}
