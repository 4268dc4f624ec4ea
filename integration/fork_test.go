package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/engine"
)

// plainRedis is a redis-server (or valkey-server) a test starts by itself,
// outside larder: a fork source or a leader to follow.
type plainRedis struct {
	t        testing.TB
	Port     int
	Password string // of the default user
	cmd      *exec.Cmd
	done     chan struct{}
}

// startPlainRedis runs the engine on a free port of its own 22000-27999
// block, with a password for the default user and extra arguments.
func startPlainRedis(t testing.TB, extra ...string) *plainRedis {
	t.Helper()
	eng, err := engine.Discover()
	if err != nil {
		t.Skipf("no engine: %v", err)
	}
	lo, hi := portRange(100)
	port := 0
	for p := lo; p <= hi && port == 0; p++ {
		if portFree(p) {
			port = p
		}
	}
	if port == 0 {
		t.Fatalf("no free port in %d-%d", lo, hi)
	}
	r := &plainRedis{t: t, Port: port, Password: "plain-" + strconv.Itoa(port) + "-secret"}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--requirepass", r.Password,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--daemonize", "no", "--loglevel", "warning"}, extra...)
	r.cmd = exec.Command(eng.Path, args...)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", eng.Path, err)
	}
	r.done = make(chan struct{})
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.Stop)
	c := r.Client("default", r.Password)
	WaitFor(t, 10*time.Second, "plain redis-server to answer", func() error { return c.Ping(context.Background()).Err() })
	return r
}

// URL is the server's redis:// URL for user and password.
func (r *plainRedis) URL(user, password string) string {
	return fmt.Sprintf("redis://%s:%s@127.0.0.1:%d", user, password, r.Port)
}

// Client connects as user; it is closed at cleanup.
func (r *plainRedis) Client(user, password string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.Port), Username: user, Password: password,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, MaxRetries: -1, DisableIdentity: true})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// Admin is a client of the default user.
func (r *plainRedis) Admin() *redis.Client { return r.Client("default", r.Password) }

// Stop kills the server.
func (r *plainRedis) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.cmd = nil
}

// fillSample writes one key of every type (string, hash, list, set, zset,
// stream), some with TTLs, n plain strings, and one key in database 1.
func fillSample(t testing.TB, c *redis.Client, n int) {
	t.Helper()
	ctx := context.Background()
	p := c.Pipeline()
	p.Set(ctx, "str", "v", 0)
	p.Set(ctx, "ttl", "v", time.Hour)
	p.HSet(ctx, "hash", "a", "1", "b", "2")
	p.Expire(ctx, "hash", 30*time.Minute)
	p.RPush(ctx, "list", "a", "b", "c")
	p.SAdd(ctx, "set", "a", "b")
	p.ZAdd(ctx, "zset", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
	p.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []any{"f", "v"}})
	for i := range n {
		p.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	o := c.Options()
	c1 := redis.NewClient(&redis.Options{Addr: o.Addr, Username: o.Username, Password: o.Password, DB: 1, DisableIdentity: true})
	defer c1.Close()
	if err := c1.Set(ctx, "db1", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// checkSample checks what fillSample wrote through an add-on's URL: every
// key with its type, TTLs within a minute, the key of database 1.
func checkSample(t *testing.T, rawURL string, n int) {
	t.Helper()
	ctx := context.Background()
	c := redisClient(t, rawURL)
	types := map[string]string{"str": "string", "ttl": "string", "hash": "hash", "list": "list", "set": "set", "zset": "zset", "stream": "stream"}
	for k, want := range types {
		if got, err := c.Type(ctx, k).Result(); err != nil || got != want {
			t.Errorf("TYPE %s = %q, %v; want %q", k, got, err, want)
		}
	}
	if got, err := c.DBSize(ctx).Result(); err != nil || got != int64(n+7) {
		t.Errorf("DBSIZE = %d, %v; want %d", got, err, n+7)
	}
	if v, err := c.Get(ctx, fmt.Sprintf("k%d", n-1)).Result(); err != nil || v != strconv.Itoa(n-1) {
		t.Errorf("k%d = %q, %v", n-1, v, err)
	}
	for k, want := range map[string]time.Duration{"ttl": time.Hour, "hash": 30 * time.Minute} {
		if got, err := c.PTTL(ctx, k).Result(); err != nil || got > want || got < want-time.Minute {
			t.Errorf("PTTL %s = %v, %v; want about %v", k, got, err, want)
		}
	}
	if got, _ := c.PTTL(ctx, "str").Result(); got >= 0 {
		t.Errorf("PTTL str = %v, want no expiry", got)
	}
	if got, _ := c.LRange(ctx, "list", 0, -1).Result(); strings.Join(got, "") != "abc" {
		t.Errorf("list = %v", got)
	}
	if got, _ := c.ZScore(ctx, "zset", "b").Result(); got != 2 {
		t.Errorf("ZSCORE zset b = %v, want 2", got)
	}
	if got, _ := c.XLen(ctx, "stream").Result(); got != 1 {
		t.Errorf("XLEN stream = %d, want 1", got)
	}
	u := strings.TrimRight(rawURL, "/") + "/1"
	if v, err := redisClient(t, u).Get(ctx, "db1").Result(); err != nil || v != "v" {
		t.Errorf("database 1: db1 = %q, %v", v, err)
	}
}

// redisInfoOf reads redis:info --json of one add-on.
func redisInfoOf(t *testing.T, b *Broker, app, ref string) api.RedisInfo {
	t.Helper()
	r := b.MustLarder("redis:info", ref, "-a", app, "--json")
	var infos []api.RedisInfo
	if err := json.Unmarshal([]byte(r.Stdout), &infos); err != nil || len(infos) != 1 {
		t.Fatalf("redis:info --json: %v\n%s", err, r.Stdout)
	}
	return infos[0]
}

// eventsOf lists an add-on's events as "kind: message" lines.
func eventsOf(t *testing.T, b *Broker, app, ref string) string {
	t.Helper()
	evs, err := b.Client().Events(context.Background(), app, ref)
	if err != nil {
		t.Fatalf("events of %s: %v", ref, err)
	}
	var lines []string
	for _, e := range evs {
		lines = append(lines, e.Kind+": "+e.Message)
	}
	return strings.Join(lines, "\n")
}

// storedForkPasswords reads every fork's password column from the broker's
// store (read-only, beside the running broker).
func storedForkPasswords(t *testing.T, b *Broker) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.DataDir, "larder.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT password FROM forks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pw string
		if err := rows.Scan(&pw); err != nil {
			t.Fatal(err)
		}
		out = append(out, pw)
	}
	return out
}

// noSecret fails the test if secret shows in any of texts.
func noSecret(t *testing.T, secret string, texts map[string]string) {
	t.Helper()
	for what, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("the source's password appears in %s", what)
		}
	}
}

const sampleKeys = 3000

func TestForkFromURL(t *testing.T) {
	b := NewBroker(t)
	src := startPlainRedis(t)
	fillSample(t, src.Admin(), sampleKeys)
	b.MustLarder("apps:create", "web")
	// An HA plan: the primary replicates from the source, its standby from
	// the primary, and the pair is in sync before the add-on is available.
	ctx := context.Background()
	res, err := b.Client().CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:premium-0", Attachment: "FORKED",
		Config: map[string]string{"fork": src.URL("default", src.Password)}})
	if err != nil {
		t.Fatal(err)
	}
	// The source waits repl-diskless-sync-delay (5 s by default) before it
	// sends its snapshot: long enough to watch the fork's progress, in the
	// operation (what --wait shows) and in redis:info.
	var progress string
	WaitFor(t, 20*time.Second, "the fork's progress", func() error {
		op, err := b.Client().Operation(ctx, res.Operation.ID)
		if err != nil {
			return err
		}
		info := redisInfoOf(t, b, "web", "FORKED")
		if info.Fork == nil || info.Fork.State != "syncing" || info.Fork.KeysTotal != sampleKeys+8 || !strings.Contains(op.Progress, "forking from") {
			return fmt.Errorf("fork = %+v, operation progress %q", info.Fork, op.Progress)
		}
		progress = op.Progress
		return nil
	})
	if !strings.Contains(progress, "forking from redis://default:***@127.0.0.1") || !strings.Contains(progress, "replication (SYNC)") {
		t.Errorf("operation progress during the fork = %q", progress)
	}
	op, err := b.Client().WaitOperation(ctx, res.Operation.ID, 50*time.Millisecond, nil)
	if err != nil || op.State != api.OpSucceeded {
		t.Fatalf("fork operation = %+v, %v", op, err)
	}
	vars := configVars(t, b, "web")
	checkSample(t, vars["FORKED_URL"], sampleKeys)

	info := redisInfoOf(t, b, "web", "FORKED")
	if f := info.Fork; f == nil || f.State != "done" || f.Method != api.ForkMethodSync || f.KeysDone != sampleKeys+8 ||
		!strings.Contains(f.Source, "default:***@127.0.0.1") {
		t.Errorf("redis:info fork = %+v; want done by sync, %d keys", info.Fork, sampleKeys+8)
	}
	if info.HA == nil || !info.HA.InSync {
		t.Errorf("standby not in sync after the fork: %+v (%s)", info.HA, info.HAStatus)
	}
	text := b.MustLarder("redis:info", "FORKED", "-a", "web").Stdout
	if !strings.Contains(text, "Forked From") || !strings.Contains(text, "replication (SYNC)") {
		t.Errorf("redis:info lacks the fork:\n%s", text)
	}
	// Writes go to the new add-on alone now.
	c := redisClient(t, vars["FORKED_URL"])
	if err := c.Set(ctx, "mine", "1", 0).Err(); err != nil {
		t.Errorf("write to the forked add-on: %v", err)
	}
	if n, _ := src.Admin().Exists(ctx, "mine").Result(); n != 0 {
		t.Errorf("a write to the fork reached the source")
	}
	evs := eventsOf(t, b, "web", "FORKED")
	if !strings.Contains(evs, "fork.done: forked from redis://default:***@") {
		t.Errorf("events lack fork.done:\n%s", evs)
	}
	for _, pw := range storedForkPasswords(t, b) {
		if pw != "" {
			t.Errorf("the source's password is still in the store after the fork")
		}
	}
	noSecret(t, src.Password, map[string]string{"progress": progress, "events": evs, "redis:info": text, "broker log": b.logs.String()})
}

func TestForkFallsBackWhenSourceDeniesSync(t *testing.T) {
	b := NewBroker(t)
	src := startPlainRedis(t)
	fillSample(t, src.Admin(), sampleKeys)
	if err := src.Admin().Do(context.Background(), "ACL", "SETUSER", "forker", "on", ">forker-secret", "~*", "&*", "+@all", "-sync", "-psync").Err(); err != nil {
		t.Fatal(err)
	}
	b.MustLarder("apps:create", "web")
	// Heroku's form: the provider option after --.
	r := b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait", "--", "--fork", src.URL("forker", "forker-secret"))
	checkSample(t, configVars(t, b, "web")["REDIS_URL"], sampleKeys)
	info := redisInfoOf(t, b, "web", "REDIS")
	if f := info.Fork; f == nil || f.Method != api.ForkMethodCopy || !strings.Contains(f.Reason, "NOPERM") || f.KeysDone != sampleKeys+8 {
		t.Errorf("redis:info fork = %+v; want a copy because of NOPERM", info.Fork)
	}
	evs := eventsOf(t, b, "web", "REDIS")
	if !strings.Contains(evs, "fork.fallback: the source refuses SYNC/PSYNC") || !strings.Contains(evs, "SCAN + DUMP/RESTORE") {
		t.Errorf("events do not say the copy fallback was used:\n%s", evs)
	}
	text := b.MustLarder("redis:info", "-a", "web").Stdout
	if !strings.Contains(text, "copy (SCAN + DUMP/RESTORE)") {
		t.Errorf("redis:info does not name the copy:\n%s", text)
	}
	noSecret(t, "forker-secret", map[string]string{"CLI output": r.Stdout + r.Stderr, "events": evs, "broker log": b.logs.String()})
}

func TestForkFromLarderAddon(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "src")
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "src", "--wait")
	srcURL := configVars(t, b, "src")["REDIS_URL"]
	c := redisClient(t, srcURL)
	fillSample(t, c, sampleKeys)
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--fork", "src::REDIS", "--wait")
	webURL := configVars(t, b, "web")["REDIS_URL"]
	if webURL == srcURL {
		t.Fatal("the fork has the source's URL")
	}
	checkSample(t, webURL, sampleKeys)
	info := redisInfoOf(t, b, "web", "REDIS")
	if f := info.Fork; f == nil || f.Method != api.ForkMethodSync || !strings.HasPrefix(f.Source, "src::redis-") {
		t.Errorf("redis:info fork = %+v; want a sync from src::redis-…", info.Fork)
	}
	// The source goes on alone, with no replica left behind.
	if r, _ := c.Info(context.Background(), "replication").Result(); !strings.Contains(r, "connected_slaves:0") {
		t.Errorf("the source still has a replica:\n%s", r)
	}
}

// TestForkRefusals: a bad URL, a wrong password, an unreachable or too large
// source, and a source that lets the fork start but not finish: each gives a
// clear error and leaves nothing behind.
func TestForkRefusals(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	src := startPlainRedis(t)
	ctx := context.Background()
	// Sync and DUMP denied: the copy fallback starts and then fails.
	if err := src.Admin().Do(ctx, "ACL", "SETUSER", "nodump", "on", ">nodump-secret", "~*", "&*", "+@all", "-sync", "-psync", "-dump").Err(); err != nil {
		t.Fatal(err)
	}
	fillSample(t, src.Admin(), 10)
	big := startPlainRedis(t)
	chunk := strings.Repeat("x", 1<<20)
	for i := range 22 {
		if err := big.Admin().Set(ctx, fmt.Sprintf("big%d", i), chunk, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	closed := freeTCPPort(t)
	tests := []struct {
		name, url, want, secret string
	}{
		{"not a URL", "redis//oops:hunter2@127.0.0.1", "must start with redis:// or rediss://", "hunter2"},
		{"no such add-on", "other::CACHE", "neither a redis:// URL nor a larder add-on", ""},
		{"no password", fmt.Sprintf("redis://default@127.0.0.1:%d", src.Port), "has no password", ""},
		{"wrong password", src.URL("default", "wrong-secret"), "wrong user or password", "wrong-secret"},
		{"unreachable", fmt.Sprintf("redis://default:gone-secret@127.0.0.1:%d", closed), "connection refused", "gone-secret"},
		{"too big for the plan", big.URL("default", big.Password), "pick a larger plan", big.Password},
		{"copy denied", src.URL("nodump", "nodump-secret"), "DUMP", "nodump-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.Larder("addons:create", "larder-redis:mini", "-a", "web", "--fork", tt.url, "--wait")
			if r.Code == 0 || !strings.Contains(r.Stderr, tt.want) {
				t.Fatalf("addons:create --fork: exit %d, stderr %q; want a failure saying %q", r.Code, r.Stderr, tt.want)
			}
			if tt.secret != "" {
				noSecret(t, tt.secret, map[string]string{"CLI output": r.Stdout + r.Stderr, "broker log": b.logs.String()})
			}
			WaitFor(t, 10*time.Second, "nothing left of the failed add-on", func() error {
				addons, err := b.Client().Addons(ctx, "web")
				if err != nil {
					return err
				}
				if len(addons) != 0 {
					return fmt.Errorf("add-ons left: %+v", addons)
				}
				if dirs := nodeDirs(b); len(dirs) != 0 {
					return fmt.Errorf("node dirs left: %v", dirs)
				}
				if pids := nodePIDs(b.DataDir); len(pids) != 0 {
					return fmt.Errorf("node processes left: %v", pids)
				}
				return nil
			})
			if vars := configVars(t, b, "web"); len(vars) != 0 {
				t.Errorf("config vars left: %v", vars)
			}
		})
	}
	// The source took no harm and kept no replica.
	if r, _ := src.Admin().Info(ctx, "replication").Result(); !strings.Contains(r, "connected_slaves:0") {
		t.Errorf("the source has a replica left:\n%s", r)
	}
}

// A broker stopped in the middle of a fork resumes it when it starts again.
func TestForkResumesAfterBrokerRestart(t *testing.T) {
	b := NewBroker(t)
	src := startPlainRedis(t) // sends its snapshot 5 s after a sync starts
	fillSample(t, src.Admin(), sampleKeys)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--fork", src.URL("default", src.Password))
	WaitFor(t, 20*time.Second, "the fork to start", func() error {
		if f := redisInfoOf(t, b, "web", "REDIS").Fork; f == nil || f.State != "syncing" {
			return fmt.Errorf("fork = %+v", f)
		}
		return nil
	})
	b.Stop()
	b.Start()
	b.MustLarder("redis:wait", "-a", "web")
	if !strings.Contains(b.logs.String(), "resuming operation") {
		t.Errorf("the new broker did not resume the fork")
	}
	checkSample(t, configVars(t, b, "web")["REDIS_URL"], sampleKeys)
	if f := redisInfoOf(t, b, "web", "REDIS").Fork; f == nil || f.State != "done" {
		t.Errorf("fork after the restart = %+v, want done", f)
	}
}
