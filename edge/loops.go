package edge

import (
	"runtime"
	"sync"

	"github.com/sirupsen/logrus"
)

// maxLoops caps the event loops of an edge: one loop carries hundreds of
// thousands of requests a second, and each holds an OS thread.
const maxLoops = 4

// loops is the edge's set of event loops for plain connections, started
// with the first connection handed over; pairs are assigned round-robin.
type loops struct {
	mu      sync.Mutex
	ls      []*loop
	next    int
	failed  bool // epoll or eventfd is unavailable: plain connections are copied
	stopped bool
	wg      sync.WaitGroup
	cfg     *Config
}

// pick returns the loop for the next connection, starting the loops
// first; nil when there are none (the connection is copied as before).
func (s *loops) pick(log *logrus.Entry) *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed || s.stopped {
		return nil
	}
	if s.ls == nil {
		for range loopCount() {
			l, err := newLoop(s.cfg.HalfCloseTimeout, log)
			if err != nil {
				log.WithError(err).Warn("edge event loops unavailable: plain connections are copied")
				for _, l := range s.ls {
					l.send(loopMsg{})
				}
				s.ls, s.failed = nil, true
				return nil
			}
			s.ls = append(s.ls, l)
			s.wg.Add(1)
			go l.run(s.wg.Done)
		}
	}
	l := s.ls[s.next%len(s.ls)]
	s.next++
	return l
}

// stop stops the loops (they end the pairs they still carry) and waits
// until their goroutines have returned.
func (s *loops) stop() {
	s.mu.Lock()
	s.stopped = true
	ls := s.ls
	s.mu.Unlock()
	for _, l := range ls {
		l.send(loopMsg{})
	}
	s.wg.Wait()
}

// loopCount is one loop per two processors (at least one, at most
// maxLoops). A loop's writes do the kernel's work of delivering the bytes
// to the peer on the loop's own processor, and the edge shares its host
// with nodes or clients: on two processors, two loops cost a fifth more
// CPU per request than one, for the same throughput, as each wakes for
// half the events (package doc).
func loopCount() int {
	return min(max(runtime.GOMAXPROCS(0)/2, 1), maxLoops)
}
