package edge

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// pair is one plain connection handed to a loop: the client's and the
// backend's sockets (descriptors the loop owns) and what each direction
// holds back. Only the loop touches it, except shut.
type pair struct {
	fd  [2]int // 0 the client, 1 the backend
	l   *loop
	end func() // reports the end (the connection is released); the loop calls it once

	mu     sync.Mutex // orders shut against the loop closing fd
	closed bool       // the loop closed fd: the numbers may belong to others now
	isCut  atomic.Bool

	pend     [2][]byte  // pend[s]: bytes read from side s not yet written to the other
	bufs     [2]*[]byte // the pooled buffers behind pend
	eof      [2]bool    // side s sent its end
	parked   [2]bool    // side s hung up while not read: out of the epoll set
	mask     [2]uint32  // the events side s is registered for
	deadline time.Time  // after the client's end: when the replies must be done
	done     bool
}

// reading says whether side s is read: not after its end, and not while
// the other side has not taken what was read last (backpressure).
func (p *pair) reading(s int) bool { return !p.eof[s] && p.pend[s] == nil }

// shut ends the pair from another goroutine (a route change, Close): it
// shuts both sockets down, which wakes the loop, and tells the loop, which
// then closes them. It never closes a descriptor the loop may be using.
func (p *pair) shut() {
	p.isCut.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	unix.Shutdown(p.fd[0], unix.SHUT_RDWR)
	unix.Shutdown(p.fd[1], unix.SHUT_RDWR)
	p.l.send(loopMsg{p: p})
}

// handOver gives an admitted, dialed plain connection to an event loop:
// the loop works on duplicates of the two sockets, and the Go connections
// are closed, which takes them out of Go's netpoller (left there, every
// packet would wake the scheduler too). False when there is no loop (the
// caller copies as before) or c was cut meanwhile (the copy then ends at
// once on the closed sockets).
func (r *route) handOver(c *conn, b *net.TCPConn) bool {
	l := r.e.loops.pick(r.e.log)
	if l == nil {
		return false
	}
	var fds [2]int
	for i, tc := range []*net.TCPConn{c.raw, b} {
		fd, err := dupSocket(tc)
		if err != nil {
			r.e.log.WithError(err).Warn("edge cannot hand a connection to its event loop")
			if i == 1 {
				unix.Close(fds[0])
			}
			return false
		}
		fds[i] = fd
	}
	p := &pair{fd: fds, l: l, end: func() {
		c.ended()
		r.release(c)
		r.e.wg.Done()
	}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isCut {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return false
	}
	c.pair = p
	c.raw.Close()
	b.Close()
	l.send(loopMsg{p: p, add: true})
	return true
}

// dupSocket returns a duplicate of tc's descriptor, non-blocking and
// close-on-exec.
func dupSocket(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
