package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// adminClient connects to the add-on behind rawURL as larder's admin user,
// reading the admin password from the node's ACL file (as an operator could);
// rawURL names the node itself (directURL), not the edge.
func adminClient(t *testing.T, b *Broker, rawURL string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(b.DataDir, "nodes", "*", "node.conf"))
	for _, conf := range files {
		data, _ := os.ReadFile(conf)
		if !strings.Contains(string(data), fmt.Sprintf("\nport %s\n", strings.Split(opt.Addr, ":")[1])) {
			continue
		}
		acl, err := os.ReadFile(filepath.Join(filepath.Dir(conf), "users.acl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(acl), "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && f[0] == "user" && f[1] == "larder-admin" {
				for _, tok := range f {
					if strings.HasPrefix(tok, ">") {
						c := redis.NewClient(&redis.Options{Addr: opt.Addr, Username: "larder-admin", Password: tok[1:]})
						t.Cleanup(func() { c.Close() })
						return c
					}
				}
			}
		}
	}
	t.Fatalf("no node config for %s", opt.Addr)
	return nil
}

func configGet(t *testing.T, c *redis.Client, key string) string {
	t.Helper()
	m, err := c.ConfigGet(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("CONFIG GET %s: %v", key, err)
	}
	return m[key]
}

func TestAttachmentsColorsPromoteDetach(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("apps:create", "worker")
	for _, name := range []string{"first-cache", "second-cache", "third-cache"} {
		b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--name", name, "--wait")
	}
	vars := configVars(t, b, "web")
	urls := map[string]string{
		"first-cache":  vars["REDIS_URL"],
		"second-cache": vars["LARDER_REDIS_AMBER_URL"],
		"third-cache":  vars["LARDER_REDIS_AQUA_URL"],
	}
	for name, u := range urls {
		if u == "" {
			t.Fatalf("%s has no URL; vars = %v", name, keys(vars))
		}
	}
	for _, name := range []string{"REDIS", "LARDER_REDIS_AMBER", "LARDER_REDIS_AQUA"} {
		if !strings.HasPrefix(vars[name+"_TLS_URL"], "rediss://") {
			t.Errorf("%s_TLS_URL = %q, want the TLS URL", name, vars[name+"_TLS_URL"])
		}
	}
	if len(vars) != 6 {
		t.Errorf("web has %d vars, want 6 (a URL and a TLS URL per add-on): %v", len(vars), keys(vars))
	}

	// Share second-cache with worker: it becomes worker's REDIS, same instance.
	b.MustLarder("addons:attach", "web::LARDER_REDIS_AMBER", "-a", "worker")
	wvars := configVars(t, b, "worker")
	if wvars["REDIS_URL"] != urls["second-cache"] {
		t.Fatalf("worker REDIS_URL = %q, want second-cache's URL", wvars["REDIS_URL"])
	}
	redisClient(t, urls["second-cache"]).Set(ctx, "shared", "yes", 0)
	if v, _ := redisClient(t, wvars["REDIS_URL"]).Get(ctx, "shared").Result(); v != "yes" {
		t.Errorf("worker does not see web's data through the shared add-on")
	}
	// The same name again, and a name already used on the app, are refused.
	if r := b.Larder("addons:attach", "third-cache", "-a", "worker", "--as", "REDIS"); r.Code == 0 || !strings.Contains(r.Stderr, "--confirm") {
		t.Errorf("attach --as a used name: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if r := b.Larder("addons:create", "larder-redis:mini", "-a", "web", "--as", "LARDER_REDIS_AMBER"); r.Code == 0 {
		t.Errorf("create --as a used color succeeded")
	}

	// Promote third-cache: it becomes REDIS, first-cache keeps a new color.
	r := b.MustLarder("redis:promote", "third-cache", "-a", "web")
	if !strings.Contains(r.Stdout, "third-cache") {
		t.Errorf("promote output %q", r.Stdout)
	}
	vars = configVars(t, b, "web")
	if vars["REDIS_URL"] != urls["third-cache"] {
		t.Errorf("after promote REDIS_URL is not third-cache's")
	}
	if vars["LARDER_REDIS_AQUA_URL"] != urls["third-cache"] {
		t.Errorf("third-cache lost its AQUA alias")
	}
	if vars["LARDER_REDIS_BLUE_URL"] != urls["first-cache"] {
		t.Errorf("first-cache did not keep its vars under the next color (BLUE); vars %v", keys(vars))
	}
	// Promoting an add-on not attached to the app is refused.
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "worker", "--name", "worker-own", "--as", "OWN", "--wait")
	if r := b.Larder("redis:promote", "worker-own", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "not attached") {
		t.Errorf("promote of an unattached add-on: exit %d, %q", r.Code, r.Stderr)
	}

	// Exact names win over prefixes; prefixes that match two are errors listing both.
	r = b.MustLarder("addons:info", "first-cache", "-a", "web")
	if !strings.Contains(r.Stdout, "first-cache") {
		t.Errorf("addons:info first-cache: %q", r.Stdout)
	}
	if r := b.Larder("redis:info", "LARDER_REDIS", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "LARDER_REDIS_AMBER") {
		t.Errorf("ambiguous reference: exit %d, %q", r.Code, r.Stderr)
	}
	if r := b.Larder("redis:info", "nothing", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "no add-on") {
		t.Errorf("unknown reference: exit %d, %q", r.Code, r.Stderr)
	}

	// The owning app's last attachment cannot be detached; a shared one can.
	if r := b.Larder("addons:detach", "LARDER_REDIS_AMBER", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "addons:destroy") || !strings.Contains(r.Stderr, "worker::REDIS") {
		t.Errorf("detach of the owning app's last attachment: exit %d, %q", r.Code, r.Stderr)
	}
	// Destroy refuses while worker is attached, unless --force.
	if r := b.Larder("addons:destroy", "second-cache", "-a", "web", "--confirm", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "worker") {
		t.Errorf("destroy of a shared add-on without --force: exit %d, %q", r.Code, r.Stderr)
	}
	b.MustLarder("addons:detach", "REDIS", "-a", "worker")
	if _, ok := configVars(t, b, "worker")["REDIS_URL"]; ok {
		t.Errorf("worker still has REDIS_URL after detach")
	}
	b.MustLarder("addons:attach", "second-cache", "-a", "worker", "--as", "CACHE")
	b.MustLarder("addons:destroy", "second-cache", "-a", "web", "--confirm", "web", "--force")
	if _, ok := configVars(t, b, "worker")["CACHE_URL"]; ok {
		t.Errorf("destroy --force left CACHE_URL on worker")
	}
	if _, ok := configVars(t, b, "web")["LARDER_REDIS_AMBER_URL"]; ok {
		t.Errorf("destroy left LARDER_REDIS_AMBER_URL on web")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSettingsAndCredentials(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("apps:create", "worker")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait", "--maxmemory_policy", "allkeys-lru")
	b.MustLarder("addons:attach", "web::REDIS", "-a", "worker")
	oldURL := configVars(t, b, "web")["REDIS_URL"]
	admin := adminClient(t, b, directURL(t, b, "web"))
	if got := configGet(t, admin, "maxmemory-policy"); got != "allkeys-lru" {
		t.Errorf("policy at create = %q, want allkeys-lru", got)
	}

	b.MustLarder("redis:maxmemory", "-a", "web", "--policy", "volatile-ttl")
	b.MustLarder("redis:timeout", "-a", "web", "--seconds", "120")
	b.MustLarder("redis:keyspace-notifications", "-a", "web", "--config", "KEA")
	if got := configGet(t, admin, "maxmemory-policy"); got != "volatile-ttl" {
		t.Errorf("maxmemory-policy = %q", got)
	}
	if got := configGet(t, admin, "timeout"); got != "120" {
		t.Errorf("timeout = %q", got)
	}
	if got := configGet(t, admin, "notify-keyspace-events"); !strings.ContainsAny(got, "AKE") {
		t.Errorf("notify-keyspace-events = %q", got)
	}
	r := b.MustLarder("redis:info", "-a", "web")
	for _, want := range []string{"volatile-ttl", "120", "KEA"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("redis:info lacks %q:\n%s", want, r.Stdout)
		}
	}
	// Bad values change nothing.
	for _, args := range [][]string{
		{"redis:maxmemory", "-a", "web", "--policy", "lru-ish"},
		{"redis:timeout", "-a", "web", "--seconds", "-5"},
		{"redis:timeout", "-a", "web", "--seconds", "soon"},
		{"redis:keyspace-notifications", "-a", "web", "--config", "KQ"},
	} {
		if r := b.Larder(args...); r.Code == 0 {
			t.Errorf("larder %v succeeded", args)
		}
	}
	if got := configGet(t, admin, "timeout"); got != "120" {
		t.Errorf("timeout after bad input = %q, want 120", got)
	}
	// Disabling notifications with ''.
	b.MustLarder("redis:keyspace-notifications", "-a", "web", "--config", "")
	if got := configGet(t, admin, "notify-keyspace-events"); got != "" {
		t.Errorf("notify-keyspace-events after disable = %q", got)
	}

	// Settings survive a restart of the node (they are in the store and the config file).
	pid, _ := readPID(filepath.Join(nodeDirs(b)[0], "node.pid"))
	killAndWaitRestart(t, b, pid)
	admin = adminClient(t, b, directURL(t, b, "web"))
	if got := configGet(t, admin, "maxmemory-policy"); got != "volatile-ttl" {
		t.Errorf("policy after restart = %q, want volatile-ttl", got)
	}

	// Credentials reset: the old password stops working, every app gets the new URL.
	old := redisClient(t, oldURL)
	if err := old.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b.MustLarder("redis:credentials", "-a", "web", "--reset")
	newURL := configVars(t, b, "web")["REDIS_URL"]
	if newURL == oldURL {
		t.Fatalf("REDIS_URL unchanged after reset")
	}
	if got := configVars(t, b, "worker")["REDIS_URL"]; got != newURL {
		t.Errorf("worker's REDIS_URL was not updated with the new password")
	}
	fresh := redis.NewClient(mustParse(t, oldURL))
	defer fresh.Close()
	if err := fresh.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("old password: %v, want WRONGPASS", err)
	}
	if err := old.Get(ctx, "k").Err(); err == nil {
		t.Errorf("a connection opened with the old password still works")
	}
	if v, err := redisClient(t, newURL).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("new URL: %q, %v", v, err)
	}
	r = b.MustLarder("redis:credentials", "-a", "web")
	if strings.TrimSpace(r.Stdout) != newURL {
		t.Errorf("redis:credentials = %q, want the new URL", r.Stdout)
	}
}

func mustParse(t *testing.T, u string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func killAndWaitRestart(t *testing.T, b *Broker, pid int) {
	t.Helper()
	if err := exec.Command("kill", "-9", fmt.Sprint(pid)).Run(); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 20*time.Second, "node restarted", func() error {
		np, ok := readPID(filepath.Join(nodeDirs(b)[0], "node.pid"))
		if !ok || np == pid || !processAlive(np) {
			return fmt.Errorf("pid %d", np)
		}
		return nil
	})
}

func TestRedisCLIPipedAndWait(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web")
	b.MustLarder("redis:wait", "-a", "web")
	r := b.LarderIn("SET greeting \"hello world\"\nGET greeting\nCONFIG GET maxmemory\n", "redis:cli", "-a", "web")
	if r.Code != 0 {
		t.Fatalf("redis:cli: exit %d, %s", r.Code, r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) < 3 || lines[0] != "OK" || lines[1] != "hello world" || !strings.Contains(lines[2], "NOPERM") {
		t.Errorf("redis:cli piped output = %q", r.Stdout)
	}
}

func TestRunRestartOnChange(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	out := filepath.Join(t.TempDir(), "seen")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, larderBin, "run", "--restart-on-change", "--poll-interval", "200ms", "-a", "web", "--",
		"sh", "-c", `echo "$REDIS_URL" >> `+out+`; exec sleep 30`)
	cmd.Env = append(baseEnv(b.Home), "LARDER_API_URL="+b.URL, "LARDER_API_TOKEN="+b.Token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lineCount := func() []string {
		f, err := os.Open(out)
		if err != nil {
			return nil
		}
		defer f.Close()
		var lines []string
		s := bufio.NewScanner(f)
		for s.Scan() {
			lines = append(lines, s.Text())
		}
		return lines
	}
	WaitFor(t, 10*time.Second, "first start", func() error {
		if len(lineCount()) < 1 {
			return fmt.Errorf("not started")
		}
		return nil
	})
	b.MustLarder("redis:credentials", "-a", "web", "--reset")
	newURL := configVars(t, b, "web")["REDIS_URL"]
	WaitFor(t, 15*time.Second, "restart with the new URL", func() error {
		lines := lineCount()
		if len(lines) < 2 || lines[len(lines)-1] != newURL {
			return fmt.Errorf("lines %d", len(lines))
		}
		return nil
	})
}
