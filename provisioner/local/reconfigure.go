package local

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"larder/engine"
	"larder/fault"
	"larder/internal/atomicfile"
	"larder/provisioner"
)

// reconfigureTimeout bounds the live part of Reconfigure.
const reconfigureTimeout = 5 * time.Second

// Reconfigure applies spec's settings and users to a running node without a
// restart: the config and ACL files are rewritten atomically (so a restart in
// place comes back the same), the settings go in with one CONFIG SET (atomic in
// the engine: all or none) and the users with ApplyUsers, all on larder's
// held connection. The supervisor's copy of the spec is replaced, so later
// restarts use it too. A spec under an older epoch than the node holds is
// refused: its roles are stale.
func (h *Host) Reconfigure(ctx context.Context, spec provisioner.NodeSpec) error {
	spec = engine.Normalize(spec)
	unlock, err := h.checkEpoch(spec, "reconfigure")
	if err != nil {
		return err
	}
	defer unlock()
	dir := h.NodeDir(spec)
	conf, err := engine.RenderConfig(spec, h.opts.Addr, dir)
	if err != nil {
		return err
	}
	acl, err := engine.RenderACL(spec)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, engine.ConfFile), conf, engine.FilePerm); err != nil {
		return fmt.Errorf("reconfigure %s: write config: %w", spec.Name, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, engine.ACLFile), acl, engine.FilePerm); err != nil {
		return fmt.Errorf("reconfigure %s: write users: %w", spec.Name, err)
	}
	h.mu.Lock()
	if m, ok := h.nodes[spec.ID]; ok {
		m.spec = spec
	}
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, reconfigureTimeout)
	defer cancel()
	c, release, err := h.admin(ctx, spec)
	if err != nil {
		return engine.NodeFault(err, spec.Name, "reconfigure")
	}
	defer release()
	_, err = c.Do(ctx, "CONFIG", "SET", "maxmemory", strconv.FormatInt(spec.MaxMemoryBytes, 10))
	if err == nil {
		_, err = c.Do(ctx, "CONFIG", "SET",
			"maxmemory-policy", spec.MaxMemoryPolicy,
			"maxclients", strconv.Itoa(spec.MaxClients+engine.ReservedClients(spec)),
			"timeout", strconv.Itoa(spec.Timeout),
			"notify-keyspace-events", spec.NotifyKeyspaceEvents,
		)
	}
	if err == nil {
		// Turning the AOF on starts a rewrite of the current data into it; the
		// node keeps serving meanwhile.
		args := []string{"CONFIG", "SET", "appendonly", "no"}
		if spec.Persistence {
			args = []string{"CONFIG", "SET", "appendonly", "yes", "appendfsync", "everysec"}
		}
		_, err = c.Do(ctx, args...)
	}
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("reconfigure node %s: the engine refused the settings", spec.Name))
	}
	if err := engine.ApplyUsers(ctx, c, spec); err != nil {
		return fault.Wrap(fault.Unavailable, err, fmt.Sprintf("reconfigure node %s: reload users", spec.Name))
	}
	return nil
}

// DisconnectUser closes every connection authenticated as user, e.g. after its
// password was rotated, so nothing keeps using the old one.
func (h *Host) DisconnectUser(ctx context.Context, spec provisioner.NodeSpec, user string) error {
	spec = engine.Normalize(spec)
	if user == spec.Admin.Name {
		return fault.E(fault.Invalid, "refusing to disconnect larder's own admin user")
	}
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	if _, err := h.adminDo(ctx, spec, "CLIENT", "KILL", "USER", user); err != nil {
		return engine.NodeFault(err, spec.Name, "disconnect "+user)
	}
	return nil
}
