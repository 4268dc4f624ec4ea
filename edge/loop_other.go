//go:build !linux

package edge

import (
	"errors"
	"net"
	"time"

	"github.com/sirupsen/logrus"
)

// Without epoll there is no event loop: plain connections are copied by
// two goroutines each (route.pipe).

type loop struct{}

type loopMsg struct{}

type pair struct{}

func newLoop(time.Duration, *logrus.Entry) (*loop, error) { return nil, errors.ErrUnsupported }

func (l *loop) run(done func()) { done() }

func (l *loop) send(loopMsg) {}

func (p *pair) shut() {}

func (r *route) handOver(*conn, *net.TCPConn) bool { return false }
