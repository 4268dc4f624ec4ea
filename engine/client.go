package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"larder/fault"
)

// Doer runs admin commands on one node and returns their replies; an
// error reply of the engine is the error.
type Doer interface {
	Do(ctx context.Context, args ...string) (any, error)
}

// NodeFault is an admin call's failure as an Unavailable fault whose
// message says what happened: a node the app fills is said to be full
// (alive, but no connection was left for larder), anything else as not
// answering.
func NodeFault(err error, node, op string) error {
	if errors.Is(err, ErrNodeFull) {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf(
			"%s on node %s: the node is full (the app holds every connection its plan allows), so larder could not connect", op, node))
	}
	return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("%s on node %s: the node does not answer", op, node))
}

// asText reads a status or bulk string reply.
func AsText(v any, err error) (string, error) {
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("unexpected reply %T", v)
	}
	return s, nil
}

// OneShot is a connection of its own to a node larder does not hold one to.
type OneShot struct {
	conn net.Conn
	r    *bufio.Reader
}

// oneShotTimeout bounds each step of a one-shot connection whose context has
// no deadline.
const oneShotTimeout = 2 * time.Second

// DialAdmin connects to addr and authenticates as u.
func DialAdmin(ctx context.Context, addr string, u User) (*OneShot, error) {
	ctx, cancel := context.WithTimeout(ctx, oneShotTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &OneShot{conn: conn, r: bufio.NewReader(conn)}
	if _, err := c.Do(ctx, "AUTH", u.Name, u.Password); err != nil {
		conn.Close()
		return nil, fmt.Errorf("auth: %w", err)
	}
	return c, nil
}

func (c *OneShot) Close() { c.conn.Close() }

// Do sends one command and reads its reply within ctx (or oneShotTimeout).
func (c *OneShot) Do(ctx context.Context, args ...string) (any, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(oneShotTimeout)
	}
	c.conn.SetDeadline(dl)
	if _, err := c.conn.Write([]byte(EncodeCommand(args...))); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	v, err := ReadReply(c.r)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(RespError); ok {
		return nil, e
	}
	return v, nil
}
