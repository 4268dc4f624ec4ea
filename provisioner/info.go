package provisioner

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// infoTimeout bounds Info and each live change.
const infoTimeout = 2 * time.Second

// Info reads the node's live figures through the admin user, on larder's
// held connection, so it works while the app holds every connection its
// plan allows.
func (h *LocalHost) Info(ctx context.Context, spec NodeSpec) (NodeInfo, error) {
	spec = normalize(spec)
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	c, release, err := h.admin(ctx, spec)
	if err != nil {
		return NodeInfo{}, nodeFault(err, spec.Name, "info")
	}
	defer release()
	text, err := asText(c.do(ctx, "INFO"))
	if err != nil {
		return NodeInfo{}, nodeFault(err, spec.Name, "info")
	}
	info := parseInfo(text)
	cfg, err := c.do(ctx, "CONFIG", "GET", "maxclients")
	if err != nil {
		return NodeInfo{}, nodeFault(err, spec.Name, "info")
	}
	if kv, ok := cfg.([]any); ok && len(kv) == 2 {
		if s, ok := kv[1].(string); ok {
			if n, err := strconv.Atoi(s); err == nil {
				info.MaxClients = max(n-reservedClients(spec), 0)
			}
		}
	}
	// Count the app's connections only, not larder's own (this one included)
	// or the standby's replication link.
	list, err := asText(c.do(ctx, "CLIENT", "LIST"))
	if err != nil {
		return NodeInfo{}, nodeFault(err, spec.Name, "info")
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

// parseInfo reads the fields NodeInfo holds from an INFO reply. Valkey
// reports valkey_version besides a redis_version kept for compatibility; the
// former wins.
func parseInfo(text string) NodeInfo {
	kv := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = v
		}
	}
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(kv[k], 10, 64)
		return n
	}
	info := NodeInfo{
		Role:             kv["role"],
		Version:          kv["valkey_version"],
		UsedMemoryBytes:  num("used_memory"),
		MaxMemoryBytes:   num("maxmemory"),
		ConnectedClients: int(num("connected_clients")),
		AOFEnabled:       kv["aof_enabled"] == "1",
		UptimeSeconds:    num("uptime_in_seconds"),
	}
	if info.Version == "" {
		info.Version = kv["redis_version"]
	}
	return info
}
