package provisioner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"larder/fault"
)

// adminDoer runs admin commands on one node and returns their replies; an
// error reply of the engine is the error.
type adminDoer interface {
	do(ctx context.Context, args ...string) (any, error)
}

// admin returns how to reach a node as its admin user: the held connection
// of a node this host supervises, or else (a node known only by its spec,
// e.g. before adoption) a connection of its own, closed by release.
func (h *LocalHost) admin(ctx context.Context, spec NodeSpec) (c adminDoer, release func(), err error) {
	h.mu.Lock()
	var held *heldConn
	if m, ok := h.nodes[spec.ID]; ok {
		held = m.conn
	}
	h.mu.Unlock()
	if held != nil {
		return held, func() {}, nil
	}
	oc, err := dialAdmin(ctx, h.dialAddr(spec.Port), spec.Admin)
	if err != nil {
		return nil, nil, err
	}
	return oc, oc.close, nil
}

// adminDo runs one admin command on the node of spec.
func (h *LocalHost) adminDo(ctx context.Context, spec NodeSpec, args ...string) (any, error) {
	c, release, err := h.admin(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.do(ctx, args...)
}

// replication reads the replication state of a node of this host.
func (h *LocalHost) replication(ctx context.Context, spec NodeSpec) (ReplInfo, error) {
	text, err := asText(h.adminDo(ctx, spec, "INFO", "replication"))
	if err != nil {
		return ReplInfo{}, nodeFault(err, spec.Name, "read replication state")
	}
	return parseReplInfo(text), nil
}

// nodeFault is an admin call's failure as an Unavailable fault whose
// message says what happened: a node the app fills is said to be full
// (alive, but no connection was left for larder), anything else as not
// answering.
func nodeFault(err error, node, op string) error {
	if errors.Is(err, ErrNodeFull) {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf(
			"%s on node %s: the node is full (the app holds every connection its plan allows), so larder could not connect", op, node))
	}
	return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("%s on node %s: the node does not answer", op, node))
}

// asText reads a status or bulk string reply.
func asText(v any, err error) (string, error) {
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("unexpected reply %T", v)
	}
	return s, nil
}

// oneShot is a connection of its own to a node larder does not hold one to.
type oneShot struct {
	conn net.Conn
	r    *bufio.Reader
}

// oneShotTimeout bounds each step of a one-shot connection whose context has
// no deadline.
const oneShotTimeout = 2 * time.Second

// dialAdmin connects to addr and authenticates as u.
func dialAdmin(ctx context.Context, addr string, u User) (*oneShot, error) {
	ctx, cancel := context.WithTimeout(ctx, oneShotTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &oneShot{conn: conn, r: bufio.NewReader(conn)}
	if _, err := c.do(ctx, "AUTH", u.Name, u.Password); err != nil {
		conn.Close()
		return nil, fmt.Errorf("auth: %w", err)
	}
	return c, nil
}

func (c *oneShot) close() { c.conn.Close() }

// do sends one command and reads its reply within ctx (or oneShotTimeout).
func (c *oneShot) do(ctx context.Context, args ...string) (any, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(oneShotTimeout)
	}
	c.conn.SetDeadline(dl)
	if _, err := c.conn.Write([]byte(respCommand(args...))); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	v, err := readReply(c.r)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(respError); ok {
		return nil, e
	}
	return v, nil
}
