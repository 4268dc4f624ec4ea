package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"larder/internal/backoff"
	"net"
	"sync"
	"time"

	"larder/engine"
)

// heldConn is larder's own connection to one node, opened when the node
// starts or is adopted and held for as long as the host supervises it. The
// supervisor's PINGs and every host-side admin command (Info, Reconfigure,
// DisconnectUser, the lease's check and fence) travel on it, pipelined, so
// larder needs exactly one of the node's connections, reserved for it (see
// ReservedClients), and never competes with the app for another.
//
// It is never closed for being slow: a caller that gives up leaves its reply
// to be read and dropped when it comes, because a connection larder lets go
// of is one the app may take. It is re-dialled at once when the node drops
// it (a restart, CLIENT KILL), then with a short backoff while the node does
// not accept it. Every reply read on it, and the engine's refusal of a full
// node, is an answer: the node is alive.
type heldConn struct {
	addr  string
	user  func() engine.User // the node's current admin user, read at each dial
	now   func() time.Time
	dial  time.Duration // bound of one dial
	retry time.Duration // longest wait between dials of a node that refuses them

	ctx    context.Context
	cancel context.CancelFunc
	kickc  chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	conn     net.Conn      // nil while not connected
	ready    chan struct{} // closed once conn is set; replaced when it drops
	queue    []waiter      // one per command sent and not yet answered, in order
	pinging  bool          // the supervisor's PING is in the queue
	answered time.Time     // the last reply of any kind
	why      error         // why it is not connected, or the node's last refusal
}

// waiter is who gets a reply: a caller's channel, or the held connection
// itself for its own AUTH, name and PINGs (ch nil).
type waiter struct {
	ch   chan result
	auth bool
	ping bool
}

type result struct {
	v   any
	err error
}

// maxQueued bounds the commands waiting for a node that does not answer.
const maxQueued = 256

// writeTimeout bounds one write: the kernel takes a command at once unless
// the node has not read anything for a long time.
const writeTimeout = 5 * time.Second

func newHeldConn(parent context.Context, addr string, user func() engine.User, now func() time.Time, dial, retry time.Duration) *heldConn {
	ctx, cancel := context.WithCancel(parent)
	c := &heldConn{addr: addr, user: user, now: now, dial: dial, retry: retry, ctx: ctx, cancel: cancel,
		kickc: make(chan struct{}, 1), done: make(chan struct{}), ready: make(chan struct{}),
		why: errors.New("not connected yet")}
	go c.run()
	return c
}

// close drops the connection for good and waits for its goroutine.
func (c *heldConn) close() {
	c.cancel()
	<-c.done
}

// kick makes a connection that waits to re-dial do it now (the node was
// just restarted).
func (c *heldConn) kick() {
	select {
	case c.kickc <- struct{}{}:
	default:
	}
}

// lastAnswer is when the node last answered anything on this connection.
func (c *heldConn) lastAnswer() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

func (c *heldConn) run() {
	defer close(c.done)
	delay := backoff.New(10*time.Millisecond, c.retry)
	wait := time.Duration(0)
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-c.ctx.Done():
			case <-c.kickc:
			case <-t.C:
			}
			t.Stop()
		}
		if c.ctx.Err() != nil {
			c.drop(nil, c.ctx.Err())
			return
		}
		if c.session() {
			delay.Reset() // it was in: get back in at once
			wait = 0
		} else {
			wait = delay.Next()
		}
	}
}

// session dials, authenticates and reads replies until the connection
// fails. It reports whether the node accepted the admin user.
func (c *heldConn) session() (accepted bool) {
	d := net.Dialer{Timeout: c.dial}
	conn, err := d.DialContext(c.ctx, "tcp", c.addr)
	if err != nil {
		c.drop(nil, fmt.Errorf("dial: %w", err))
		return false
	}
	stop := context.AfterFunc(c.ctx, func() { conn.Close() })
	defer stop()
	u := c.user()
	c.mu.Lock()
	c.conn = conn
	// AUTH first: everything queued after it runs as admin. The name tells
	// larder's connection apart in CLIENT LIST.
	c.send(waiter{auth: true}, "AUTH", u.Name, u.Password)
	c.send(waiter{}, "CLIENT", "SETNAME", "larder")
	close(c.ready)
	c.mu.Unlock()

	r := bufio.NewReader(conn)
	for {
		v, err := engine.ReadReply(r)
		if err != nil {
			c.drop(conn, fmt.Errorf("connection lost: %w", err))
			return accepted
		}
		c.mu.Lock()
		c.answered = c.now()
		if len(c.queue) == 0 {
			c.mu.Unlock()
			c.drop(conn, errors.New("a reply nobody asked for"))
			return accepted
		}
		w := c.queue[0]
		c.queue = c.queue[1:]
		refused, isErr := v.(engine.RespError)
		switch {
		case w.auth && isErr:
			c.why = fmt.Errorf("admin user refused: %w", refused)
		case w.auth:
			accepted = true
		case w.ping:
			c.pinging = false
		case w.ch != nil && isErr:
			w.ch <- result{err: refused}
		case w.ch != nil:
			w.ch <- result{v: v}
		}
		c.mu.Unlock()
		if w.auth && isErr {
			c.drop(conn, nil)
			return false
		}
	}
}

// send writes one command and queues its waiter; c.mu must be held and
// c.conn set. A failed write closes the connection, which the reader then
// sees.
func (c *heldConn) send(w waiter, args ...string) error {
	c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.conn.Write([]byte(engine.EncodeCommand(args...))); err != nil {
		c.conn.Close()
		return fmt.Errorf("write: %w", err)
	}
	c.queue = append(c.queue, w)
	c.pinging = c.pinging || w.ping
	return nil
}

// drop forgets conn (nil: none was set) and fails every waiting caller with
// why (nil: keep the reason already recorded).
func (c *heldConn) drop(conn net.Conn, why error) {
	if conn != nil {
		conn.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if why != nil {
		c.why = why
	}
	if c.conn != nil && c.conn == conn {
		c.conn = nil
		c.ready = make(chan struct{})
	}
	for _, w := range c.queue {
		if w.ch != nil {
			w.ch <- result{err: c.why}
		}
	}
	c.queue, c.pinging = nil, false
}

// ping sends the supervisor's PING unless one is still waiting for its
// reply (a paused or busy node answers it late; that is an answer too). It
// never blocks.
func (c *heldConn) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil && !c.pinging && len(c.queue) < maxQueued {
		c.send(waiter{ping: true}, "PING")
	}
}

// Do runs one admin command and returns its reply; an error reply of the
// engine is returned as the error. It waits for the connection while it is
// being (re)dialled, until ctx ends.
func (c *heldConn) Do(ctx context.Context, args ...string) (any, error) {
	ch := make(chan result, 1)
	for {
		c.mu.Lock()
		if c.conn != nil {
			if len(c.queue) >= maxQueued {
				c.mu.Unlock()
				return nil, fmt.Errorf("%d commands wait for the node's answer", len(c.queue))
			}
			err := c.send(waiter{ch: ch}, args...)
			c.mu.Unlock()
			if err != nil {
				return nil, err
			}
			break
		}
		ready, why := c.ready, c.why
		c.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("larder's connection to the node is down (%w): %w", why, ctx.Err())
		}
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no reply: %w", ctx.Err())
	}
}
