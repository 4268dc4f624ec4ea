package provisioner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/fault"
)

// infoTimeout bounds each network step of Info.
const infoTimeout = 2 * time.Second

// Info reads the node's live figures through the admin user.
func (h *LocalHost) Info(ctx context.Context, spec NodeSpec) (NodeInfo, error) {
	spec = normalize(spec)
	c := h.adminClient(spec)
	defer c.Close()
	text, err := c.Info(ctx).Result()
	if err != nil {
		return NodeInfo{}, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("info node %s: node does not answer", spec.Name))
	}
	info := parseInfo(text)
	cfg, err := c.ConfigGet(ctx, "maxclients").Result()
	if err != nil {
		return NodeInfo{}, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("info node %s: node does not answer", spec.Name))
	}
	if n, err := strconv.Atoi(cfg["maxclients"]); err == nil {
		info.MaxClients = max(n-ReservedClients, 0)
	}
	// Count the app's connections only, not larder's own (this one included)
	// or the standby's replication link.
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return NodeInfo{}, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("info node %s: node does not answer", spec.Name))
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

// adminClient is a go-redis client of one node as the admin user, with short
// timeouts and no retries: a caller wants a quick answer or a clear error.
// Close it after use.
func (h *LocalHost) adminClient(spec NodeSpec) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:            h.dialAddr(spec.Port),
		Username:        spec.Admin.Name,
		Password:        spec.Admin.Password,
		DialTimeout:     infoTimeout,
		ReadTimeout:     infoTimeout,
		WriteTimeout:    infoTimeout,
		PoolSize:        1,
		MaxRetries:      -1,
		DisableIdentity: true,
	})
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
