package local

import (
	"context"
	"strconv"
	"strings"
	"time"

	"larder/engine"
	"larder/provisioner"
)

// infoTimeout bounds Info and each live change.
const infoTimeout = 2 * time.Second

// Info reads the node's live figures through the admin user, on larder's
// held connection, so it works while the app holds every connection its
// plan allows.
func (h *Host) Info(ctx context.Context, spec provisioner.NodeSpec) (provisioner.NodeInfo, error) {
	spec = engine.Normalize(spec)
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	c, release, err := h.admin(ctx, spec)
	if err != nil {
		return provisioner.NodeInfo{}, engine.NodeFault(err, spec.Name, "info")
	}
	defer release()
	text, err := engine.AsText(c.Do(ctx, "INFO"))
	if err != nil {
		return provisioner.NodeInfo{}, engine.NodeFault(err, spec.Name, "info")
	}
	info := nodeInfo(engine.ParseInfo(text))
	cfg, err := c.Do(ctx, "CONFIG", "GET", "maxclients")
	if err != nil {
		return provisioner.NodeInfo{}, engine.NodeFault(err, spec.Name, "info")
	}
	if kv, ok := cfg.([]any); ok && len(kv) == 2 {
		if s, ok := kv[1].(string); ok {
			if n, err := strconv.Atoi(s); err == nil {
				info.MaxClients = max(n-engine.ReservedClients(spec), 0)
			}
		}
	}
	// Count the app's connections only, not larder's own (this one included)
	// or the standby's replication link.
	list, err := engine.AsText(c.Do(ctx, "CLIENT", "LIST"))
	if err != nil {
		return provisioner.NodeInfo{}, engine.NodeFault(err, spec.Name, "info")
	}
	info.ConnectedClients = countAppClients(list, spec.Admin.Name, spec.Repl.Name)
	return info, nil
}

// countAppClients counts the CLIENT LIST lines of normal clients that are not
// logged in as one of larder's own users.
func countAppClients(list string, own ...string) int {
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.TrimSpace(line) == "" || strings.Contains(line, " flags=S") || strings.Contains(line, " flags=M") {
			continue
		}
		mine := false
		for _, u := range own {
			mine = mine || (u != "" && strings.Contains(line, " user="+u+" "))
		}
		if !mine {
			n++
		}
	}
	return n
}

// nodeInfo is the part of a node's INFO a host reports as its live figures.
func nodeInfo(in engine.Info) provisioner.NodeInfo {
	var lag int64
	for _, r := range in.Repl.Replicas {
		lag = max(lag, in.Repl.MasterOffset-r.Offset)
	}
	return provisioner.NodeInfo{
		Stats:            in.Stats,
		ReplOffset:       in.Repl.Offset,
		ReplLagBytes:     lag,
		Role:             in.Repl.Role,
		Version:          in.Version,
		UsedMemoryBytes:  in.UsedMemoryBytes,
		MaxMemoryBytes:   in.MaxMemoryBytes,
		ConnectedClients: in.ConnectedClients,
		AOFEnabled:       in.AOFEnabled,
		UptimeSeconds:    in.UptimeSeconds,
	}
}
