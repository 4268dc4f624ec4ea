package local

import (
	"context"

	"larder/engine"
	"larder/provisioner"
)

// admin returns how to reach a node as its admin user: the held connection
// of a node this host supervises, or else (a node known only by its spec,
// e.g. before adoption) a connection of its own, closed by release.
func (h *Host) admin(ctx context.Context, spec provisioner.NodeSpec) (c engine.Doer, release func(), err error) {
	h.mu.Lock()
	var held *heldConn
	if m, ok := h.nodes[spec.ID]; ok {
		held = m.conn
	}
	h.mu.Unlock()
	if held != nil {
		return held, func() {}, nil
	}
	oc, err := engine.DialAdmin(ctx, h.dialAddr(spec.Port), spec.Admin)
	if err != nil {
		return nil, nil, err
	}
	return oc, oc.Close, nil
}

// adminDo runs one admin command on the node of spec.
func (h *Host) adminDo(ctx context.Context, spec provisioner.NodeSpec, args ...string) (any, error) {
	c, release, err := h.admin(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.Do(ctx, args...)
}

// replication reads the replication state of a node of this host.
func (h *Host) replication(ctx context.Context, spec provisioner.NodeSpec) (engine.ReplInfo, error) {
	text, err := engine.AsText(h.adminDo(ctx, spec, "INFO", "replication"))
	if err != nil {
		return engine.ReplInfo{}, engine.NodeFault(err, spec.Name, "read replication state")
	}
	return engine.ParseInfo(text).Repl, nil
}
