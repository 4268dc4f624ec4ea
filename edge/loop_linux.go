package edge

import (
	"container/heap"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The event loop carries plain connections once they are admitted and
// dialed: see "The plain data path" in the package doc for why.

const (
	maxEvents = 128 // readiness events taken per epoll_wait
	readable  = unix.EPOLLIN | unix.EPOLLRDHUP
	hangup    = unix.EPOLLHUP | unix.EPOLLERR
)

// loopMsg is a message to a loop: add p, cut p, or (p nil) stop.
type loopMsg struct {
	p   *pair
	add bool
}

// loop is one event loop: an epoll set (level-triggered) of the sockets
// of its pairs, and an eventfd that wakes it for messages.
type loop struct {
	epfd, efd int
	halfClose time.Duration
	log       *logrus.Entry
	buf       []byte  // the one read buffer of the loop
	byFd      []*pair // the pair of each descriptor
	timers    timerHeap

	mu      sync.Mutex // guards queue and stopped; held while efd is written or closed
	queue   []loopMsg
	stopped bool
}

func newLoop(halfClose time.Duration, log *logrus.Entry) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, err
	}
	return &loop{epfd: epfd, efd: efd, halfClose: halfClose, log: log, buf: make([]byte, bufSize)}, nil
}

// send queues m and wakes the loop; after the loop stopped, an added pair
// is ended at once (no connection is handed over then: Close stops the
// loops after the connections ended).
func (l *loop) send(m loopMsg) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		if m.add {
			unix.Close(m.p.fd[0])
			unix.Close(m.p.fd[1])
			m.p.end()
		}
		return
	}
	l.queue = append(l.queue, m)
	one := uint64(1)
	unix.Write(l.efd, (*[8]byte)(unsafe.Pointer(&one))[:])
	l.mu.Unlock()
}

// run serves the loop's pairs until it is told to stop; it owns an OS
// thread, as it blocks in epoll_wait only.
func (l *loop) run(done func()) {
	defer done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	evs := make([]unix.EpollEvent, maxEvents)
	for {
		n, err := unix.EpollWait(l.epfd, evs, l.timeout())
		if err != nil && err != unix.EINTR {
			l.log.WithError(err).Error("edge event loop failed: its connections end")
			l.shutdown()
			return
		}
		wake := false
		for _, ev := range evs[:max(n, 0)] {
			if int(ev.Fd) == l.efd {
				wake = true // messages after the readiness of this batch: no descriptor is reused within it
				continue
			}
			l.handle(ev)
		}
		if len(l.timers) > 0 {
			l.expire(time.Now())
		}
		if wake && l.control() {
			return
		}
	}
}

// handle acts on one socket's readiness: write what waits for it, then
// read it once and pass the bytes on.
func (l *loop) handle(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	if fd >= len(l.byFd) || l.byFd[fd] == nil {
		return // ended earlier in this batch
	}
	p := l.byFd[fd]
	if p.isCut.Load() {
		l.end(p)
		return
	}
	s := 0
	if p.fd[1] == fd {
		s = 1
	}
	o := 1 - s
	hup := ev.Events&hangup != 0
	if p.pend[o] != nil && (ev.Events&unix.EPOLLOUT != 0 || hup) && !l.flush(p, o) {
		return
	}
	switch {
	case p.reading(s) && (ev.Events&readable != 0 || hup):
		if !l.read(p, s) {
			return
		}
	case ev.Events&unix.EPOLLERR != 0 || (hup && p.pend[o] != nil):
		l.end(p)
		return
	case hup:
		// Level-triggered, a hang-up is reported until the socket closes:
		// one not read now (its end was read, or it waits for the other
		// side to drain) leaves the set until it is read again.
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
			l.end(p)
			return
		}
		p.parked[s], p.mask[s] = true, 0
	}
	l.arm(p)
}

// read reads side s once and writes what came to the other side; what
// the other side does not take now waits in pend[s], and s is not read
// until it is taken. False when the pair ended.
func (l *loop) read(p *pair, s int) bool {
	n, err := sysRead(p.fd[s], l.buf)
	switch {
	case err == unix.EAGAIN:
		return true
	case err != nil:
		l.end(p)
		return false
	case n == 0:
		return l.ended(p, s)
	}
	w, err := sysWrite(p.fd[1-s], l.buf[:n])
	if err == unix.EAGAIN {
		w, err = 0, nil
	}
	if err != nil {
		l.end(p)
		return false
	}
	if w < n {
		p.bufs[s] = bufPool.Get().(*[]byte)
		p.pend[s] = append((*p.bufs[s])[:0], l.buf[w:n]...)
	}
	return true
}

// flush writes what side s sent and the other side did not take yet.
// False when the pair ended.
func (l *loop) flush(p *pair, s int) bool {
	w, err := sysWrite(p.fd[1-s], p.pend[s])
	if err == unix.EAGAIN {
		return true
	}
	if err != nil {
		l.end(p)
		return false
	}
	if p.pend[s] = p.pend[s][w:]; len(p.pend[s]) == 0 {
		bufPool.Put(p.bufs[s])
		p.bufs[s], p.pend[s] = nil, nil
	}
	return true
}

// ended acts on side s's end (everything it sent was passed on, as s is
// read only then). The client's end is passed on as a half-close and the
// replies get halfClose to finish; the node's end ends the connection.
// False when the pair ended.
func (l *loop) ended(p *pair, s int) bool {
	p.eof[s] = true
	if s == 1 {
		unix.Shutdown(p.fd[0], unix.SHUT_WR)
		l.end(p)
		return false
	}
	if err := unix.Shutdown(p.fd[1], unix.SHUT_WR); err != nil {
		l.end(p)
		return false
	}
	p.deadline = time.Now().Add(l.halfClose)
	heap.Push(&l.timers, p)
	return true
}

// arm registers each side for what the pair waits for now: readable while
// it is read, writable while bytes wait for it.
func (l *loop) arm(p *pair) {
	for s := range 2 {
		var want uint32
		if p.reading(s) {
			want |= readable
		}
		if p.pend[1-s] != nil {
			want |= unix.EPOLLOUT
		}
		op := unix.EPOLL_CTL_MOD
		switch {
		case p.parked[s] && want&readable == 0:
			continue
		case p.parked[s]:
			op = unix.EPOLL_CTL_ADD
		case want == p.mask[s]:
			continue
		}
		ev := unix.EpollEvent{Events: want, Fd: int32(p.fd[s])}
		if err := unix.EpollCtl(l.epfd, op, p.fd[s], &ev); err != nil {
			l.end(p)
			return
		}
		p.parked[s], p.mask[s] = false, want
	}
}

// add registers a handed-over pair.
func (l *loop) add(p *pair) {
	if hi := max(p.fd[0], p.fd[1]); hi >= len(l.byFd) {
		l.byFd = append(l.byFd, make([]*pair, hi+1-len(l.byFd))...)
	}
	l.byFd[p.fd[0]], l.byFd[p.fd[1]] = p, p
	if p.isCut.Load() {
		l.end(p)
		return
	}
	for s := range 2 {
		ev := unix.EpollEvent{Events: readable, Fd: int32(p.fd[s])}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, p.fd[s], &ev); err != nil {
			l.log.WithError(err).Warn("edge event loop cannot watch a connection")
			l.end(p)
			return
		}
		p.mask[s] = readable
	}
}

// end closes both sockets (which takes them out of the epoll set) and
// reports the end.
func (l *loop) end(p *pair) {
	if p.done {
		return
	}
	p.done = true
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for s := range 2 {
		l.byFd[p.fd[s]] = nil
		unix.Close(p.fd[s])
		if p.bufs[s] != nil {
			bufPool.Put(p.bufs[s])
			p.bufs[s], p.pend[s] = nil, nil
		}
	}
	p.end()
}

// control takes the queued messages; true when the loop stopped.
func (l *loop) control() bool {
	var b [8]byte
	unix.Read(l.efd, b[:])
	l.mu.Lock()
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	for _, m := range q {
		switch {
		case m.p == nil:
			l.shutdown()
			return true
		case m.add:
			l.add(m.p)
		default:
			l.end(m.p)
		}
	}
	return false
}

// shutdown ends every pair and closes the loop's descriptors.
func (l *loop) shutdown() {
	for _, p := range l.byFd {
		if p != nil {
			l.end(p)
		}
	}
	l.mu.Lock()
	l.stopped = true
	rest := l.queue
	l.queue = nil
	unix.Close(l.efd)
	l.mu.Unlock()
	unix.Close(l.epfd)
	for _, m := range rest {
		if m.add {
			unix.Close(m.p.fd[0])
			unix.Close(m.p.fd[1])
			m.p.end()
		}
	}
}

// timeout is epoll_wait's: until the first half-close deadline, or none.
func (l *loop) timeout() int {
	if len(l.timers) == 0 {
		return -1
	}
	d := time.Until(l.timers[0].deadline)
	return max(0, int((d+time.Millisecond-1)/time.Millisecond))
}

// expire ends the pairs whose replies did not finish in time after the
// client's end.
func (l *loop) expire(now time.Time) {
	for len(l.timers) > 0 && !l.timers[0].deadline.After(now) {
		p := heap.Pop(&l.timers).(*pair)
		l.end(p)
	}
}

// timerHeap orders pairs by deadline; a pair that ended meanwhile stays
// until its deadline and is skipped then.
type timerHeap []*pair

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(*pair)) }
func (h *timerHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

// sysRead and sysWrite read and write a non-blocking socket, again when
// a signal interrupts them. They never block, so they are raw system
// calls: the Go scheduler need not hand the processor over around them.
// A write is a send without SIGPIPE: a peer gone is an error, no signal.
func sysRead(fd int, b []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno != unix.EINTR {
			return result(n, errno)
		}
	}
}

func sysWrite(fd int, b []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
		if errno != unix.EINTR {
			return result(n, errno)
		}
	}
}

func result(n uintptr, errno unix.Errno) (int, error) {
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
