package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// configVars reads an app's vars through `larder config --json`.
func configVars(t *testing.T, b *Broker, app string) map[string]string {
	t.Helper()
	r := b.MustLarder("config", "-a", app, "--json")
	vars := map[string]string{}
	if err := json.Unmarshal([]byte(r.Stdout), &vars); err != nil {
		t.Fatalf("config --json is not a JSON object: %v\n%s", err, r.Stdout)
	}
	return vars
}

func redisClient(t testing.TB, rawURL string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("parse REDIS_URL: %v", err)
	}
	opt.DialTimeout, opt.ReadTimeout = time.Second, time.Second
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// nodeDirOf finds the one node directory of the broker.
func nodeDirs(b *Broker) []string {
	dirs, _ := filepath.Glob(filepath.Join(b.DataDir, "nodes", "*"))
	return dirs
}

// TestQuickstart is the README's quickstart, step by step, through the binary.
func TestQuickstart(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()

	r := b.MustLarder("apps:create", "web")
	if !strings.Contains(r.Stdout+r.Stderr, "web") {
		t.Errorf("apps:create output does not name the app: %q %q", r.Stdout, r.Stderr)
	}

	r = b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	if !regexp.MustCompile(`Created redis-[a-z]+-\d+ as REDIS_URL`).MatchString(r.Stdout) {
		t.Errorf("addons:create --wait stdout = %q, want 'Created redis-… as REDIS_URL'", r.Stdout)
	}

	r = b.MustLarder("config", "-a", "web")
	m := regexp.MustCompile(`REDIS_URL:\s+(redis://default:[0-9a-f]{64}@127\.0\.0\.1:(\d+))`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("config does not show REDIS_URL=redis://default:…@127.0.0.1:PORT:\n%s", r.Stdout)
	}
	redisURL := m[1]
	port, _ := strconv.Atoi(m[2])
	if port < b.EdgePorts[0] || port > b.EdgePorts[1] {
		t.Errorf("URL port %d outside the broker's edge range %v", port, b.EdgePorts)
	}
	if np := primaryPort(t, b, "web"); np < b.Ports[0] || np > b.Ports[1] {
		t.Errorf("node port %d outside the broker's range %v", np, b.Ports)
	}

	r = b.MustLarder("run", "-a", "web", "--", "sh", "-c", `redis-cli -u "$REDIS_URL" set hello world`)
	if got := strings.TrimSpace(r.Stdout); got != "OK" {
		t.Fatalf("run redis-cli set: stdout %q, stderr %q; want OK", got, r.Stderr)
	}
	c := redisClient(t, redisURL)
	if got, err := c.Get(ctx, "hello").Result(); err != nil || got != "world" {
		t.Fatalf("GET hello = %q, %v; want world", got, err)
	}
	if r := b.Larder("run", "-a", "web", "--", "sh", "-c", "exit 7"); r.Code != 7 {
		t.Errorf("run propagates the exit code: got %d, want 7", r.Code)
	}

	// The customer's user is denied the admin commands, and keeps the harmless ones.
	for _, cmd := range [][]any{{"config", "get", "maxmemory"}, {"shutdown"}, {"replicaof", "no", "one"}, {"acl", "list"}, {"debug", "sleep", "0"}, {"save"}} {
		err := c.Do(ctx, cmd...).Err()
		// DEBUG is also switched off in the engine (enable-debug-command no), which
		// refuses it before the ACL check: denied either way.
		if err == nil || !strings.Contains(err.Error(), "NOPERM") && !strings.Contains(err.Error(), "DEBUG command not allowed") {
			t.Errorf("customer %v: err = %v, want NOPERM", cmd, err)
		}
	}
	for _, cmd := range [][]any{{"client", "list"}, {"slowlog", "get"}, {"lastsave"}, {"latency", "latest"}} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Errorf("customer %v: %v, want allowed", cmd, err)
		}
	}

	r = b.MustLarder("redis:info", "-a", "web")
	for _, want := range []string{"Plan", "mini", "Status", "available", "Created", "Version", "7.", "noeviction", "Persistence", "None", "Memory", "Clients"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("redis:info lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = b.MustLarder("redis:info", "-a", "web", "--json")
	var infos []struct {
		Plan       string `json:"plan"`
		Live       bool   `json:"live"`
		MemoryUsed int64  `json:"memory_used_bytes"`
		Clients    int    `json:"clients"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("redis:info --json = %q: %v", r.Stdout, err)
	}
	if !infos[0].Live || infos[0].MemoryUsed <= 0 || infos[0].Clients < 1 || infos[0].Plan != "larder-redis:mini" {
		t.Errorf("redis:info --json = %+v, want live figures for larder-redis:mini", infos[0])
	}

	dirs := nodeDirs(b)
	if len(dirs) != 1 {
		t.Fatalf("node dirs = %v, want one", dirs)
	}
	pid, ok := readPID(filepath.Join(dirs[0], "node.pid"))
	if !ok || !processAlive(pid) {
		t.Fatalf("node pid %d not alive", pid)
	}

	// Destroy needs the confirmation; without it nothing changes.
	if r := b.Larder("addons:destroy", "REDIS", "-a", "web", "--confirm", "nope"); r.Code == 0 {
		t.Fatalf("destroy with a wrong --confirm succeeded")
	}
	if !processAlive(pid) {
		t.Fatalf("a refused destroy stopped the node")
	}
	b.MustLarder("addons:destroy", "REDIS", "-a", "web", "--confirm", "web")
	WaitFor(t, 10*time.Second, "node process to exit", func() error {
		if processAlive(pid) {
			return fmt.Errorf("pid %d still alive", pid)
		}
		return nil
	})
	WaitFor(t, 10*time.Second, "node directory to be removed", func() error {
		if _, err := os.Stat(dirs[0]); err == nil {
			return fmt.Errorf("%s still exists", dirs[0])
		}
		return nil
	})
	if !portFree(port) {
		t.Errorf("port %d still bound after destroy", port)
	}
	if vars := configVars(t, b, "web"); len(vars) != 0 {
		t.Errorf("config vars after destroy = %v, want none", vars)
	}
	r = b.MustLarder("addons", "-a", "web", "--json")
	if strings.Contains(r.Stdout, "redis-") {
		t.Errorf("add-on still listed after destroy: %s", r.Stdout)
	}
	// The port is free for the next add-on again: the store released it too.
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	u, _ := url.Parse(configVars(t, b, "web")["REDIS_URL"])
	if u == nil || u.Port() != strconv.Itoa(port) {
		t.Errorf("next add-on got %v, want the freed port %d again", u, port)
	}
}
