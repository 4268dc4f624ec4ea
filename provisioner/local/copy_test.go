package local

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
)

// forkPair starts a source node holding sample data and an empty node to
// fork into, and returns the source as its admin reaches it.
func forkPair(t *testing.T) (src engine.Source, srcSpec, dst provisioner.NodeSpec, h *Host) {
	t.Helper()
	e := newEnv(t)
	h = e.host(Options{})
	srcSpec, dst = e.spec("fork-src", false), e.spec("fork-dst", false)
	ctx := context.Background()
	for _, s := range []provisioner.NodeSpec{srcSpec, dst} {
		if _, err := h.Start(ctx, s); err != nil {
			t.Fatalf("start %s: %v", s.Name, err)
		}
	}
	fillSample(t, client(t, srcSpec, srcSpec.Admin))
	src = engine.Source{Endpoint: engine.Endpoint{Addr: "127.0.0.1", Port: srcSpec.Port}, User: srcSpec.Admin, Label: "the test source"}
	return src, srcSpec, dst, h
}

// fillSample writes one key of every type, some with TTLs, and a key in db 1.
func fillSample(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	p := c.Pipeline()
	p.Set(ctx, "str", "v", 0)
	p.Set(ctx, "ttl", "v", time.Hour)
	p.HSet(ctx, "hash", "a", "1", "b", "2")
	p.RPush(ctx, "list", "a", "b", "c")
	p.SAdd(ctx, "set", "a", "b")
	p.ZAdd(ctx, "zset", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
	p.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []any{"f", "v"}})
	p.Expire(ctx, "hash", 30*time.Minute)
	for i := range 2000 {
		p.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	c1 := redis.NewClient(&redis.Options{Addr: c.Options().Addr, Username: c.Options().Username, Password: c.Options().Password, DB: 1, DisableIdentity: true})
	defer c1.Close()
	if err := c1.Set(ctx, "db1", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// checkSample checks what fillSample wrote, TTLs within a minute.
func checkSample(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	types := map[string]string{"str": "string", "ttl": "string", "hash": "hash", "list": "list", "set": "set", "zset": "zset", "stream": "stream", "k1999": "string"}
	for k, want := range types {
		if got, err := c.Type(ctx, k).Result(); err != nil || got != want {
			t.Errorf("TYPE %s = %q, %v; want %q", k, got, err, want)
		}
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 2007 {
		t.Errorf("DBSIZE = %d, %v; want 2007", n, err)
	}
	for k, want := range map[string]time.Duration{"ttl": time.Hour, "hash": 30 * time.Minute, "str": -1} {
		got, err := c.PTTL(ctx, k).Result()
		switch {
		case err != nil:
			t.Errorf("PTTL %s: %v", k, err)
		case want < 0 && got >= 0:
			t.Errorf("PTTL %s = %v, want no expiry", k, got)
		case want > 0 && (got > want || got < want-time.Minute):
			t.Errorf("PTTL %s = %v, want about %v", k, got, want)
		}
	}
	if v, _ := c.ZScore(ctx, "zset", "b").Result(); v != 2 {
		t.Errorf("ZSCORE zset b = %v, want 2", v)
	}
	if n, _ := c.XLen(ctx, "stream").Result(); n != 1 {
		t.Errorf("XLEN stream = %d, want 1", n)
	}
	c1 := redis.NewClient(&redis.Options{Addr: c.Options().Addr, Username: c.Options().Username, Password: c.Options().Password, DB: 1, DisableIdentity: true})
	defer c1.Close()
	if v, err := c1.Get(ctx, "db1").Result(); err != nil || v != "v" {
		t.Errorf("db 1 key = %q, %v", v, err)
	}
}

func TestForkBySync(t *testing.T) {
	src, _, dst, _ := forkPair(t)
	ctx := context.Background()
	info, err := engine.InspectSource(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if !info.SyncAllowed || !info.SyncKnown || info.Keys != 2008 || len(info.DBs) != 2 {
		t.Fatalf("InspectSource = %+v; want sync allowed, 2008 keys in 2 dbs", info)
	}
	var phases []string
	res, err := engine.Fork(ctx, targetOf(dst), src, info, engine.ForkOptions{Progress: func(p engine.ForkProgress) { phases = append(phases, p.Phase) }})
	if err != nil {
		t.Fatalf("Fork: %v (phases %q)", err, phases)
	}
	if res.Method != engine.ForkSync || res.Keys != 2008 {
		t.Errorf("Fork = %+v, want sync of 2008 keys", res)
	}
	c := client(t, dst, dst.Admin)
	checkSample(t, c)
	if role, _ := engine.Replication(ctx, targetOf(dst)); role.Role != "master" {
		t.Errorf("role after fork = %q, want master", role.Role)
	}
	if got, _ := c.ConfigGet(ctx, "masterauth").Result(); got["masterauth"] != "" {
		t.Errorf("the source's password stays in masterauth after the fork")
	}
	if err := c.Set(ctx, "after", "x", 0).Err(); err != nil {
		t.Errorf("write after fork: %v", err)
	}
}

func TestForkFallsBackToCopyWhenSyncDenied(t *testing.T) {
	src, srcSpec, dst, _ := forkPair(t)
	ctx := context.Background()
	admin := client(t, srcSpec, srcSpec.Admin)
	if err := admin.Do(ctx, "ACL", "SETUSER", "nosync", "on", ">nosync-pw", "~*", "&*", "+@all", "-sync", "-psync").Err(); err != nil {
		t.Fatal(err)
	}
	src.User = engine.User{Name: "nosync", Password: "nosync-pw"}
	info, err := engine.InspectSource(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if info.SyncAllowed || !info.SyncKnown || !strings.Contains(info.SyncRefusal, "NOPERM") {
		t.Fatalf("InspectSource = %+v; want sync known refused with NOPERM", info)
	}
	var last engine.ForkProgress
	res, err := engine.Fork(ctx, targetOf(dst), src, info, engine.ForkOptions{Copy: engine.CopyOptions{Batch: 100}, Progress: func(p engine.ForkProgress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != engine.ForkCopy || !strings.Contains(res.Reason, "NOPERM") || res.Keys != 2008 || res.Bytes <= 0 {
		t.Errorf("Fork = %+v; want a copy of 2008 keys because of NOPERM", res)
	}
	if last.KeysDone != 2008 || last.Method != engine.ForkCopy {
		t.Errorf("last progress = %+v", last)
	}
	checkSample(t, client(t, dst, dst.Admin))
}

// A user without channel rights cannot be probed: the fork tries to
// replicate, sees no sync start within StartTimeout, and copies.
func TestForkFallsBackWhenSyncNeverStarts(t *testing.T) {
	src, srcSpec, dst, _ := forkPair(t)
	ctx := context.Background()
	admin := client(t, srcSpec, srcSpec.Admin)
	if err := admin.Do(ctx, "ACL", "SETUSER", "nochan", "on", ">nochan-pw", "~*", "resetchannels", "+@all", "-sync", "-psync").Err(); err != nil {
		t.Fatal(err)
	}
	src.User = engine.User{Name: "nochan", Password: "nochan-pw"}
	info, err := engine.InspectSource(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if info.SyncKnown {
		t.Fatalf("InspectSource = %+v; want sync unknown", info)
	}
	res, err := engine.Fork(ctx, targetOf(dst), src, info, engine.ForkOptions{StartTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != engine.ForkCopy || !strings.Contains(res.Reason, "did not start") {
		t.Errorf("Fork = %+v; want a copy after the sync did not start", res)
	}
	checkSample(t, client(t, dst, dst.Admin))
	if r, _ := engine.Replication(ctx, targetOf(dst)); r.Role != "master" {
		t.Errorf("role after the fallback = %q, want master", r.Role)
	}
}

func TestInspectSourceErrors(t *testing.T) {
	src, _, _, _ := forkPair(t)
	ctx := context.Background()
	wrong := src
	wrong.User.Password = "not-the-password"
	closed := src
	closed.Port = freePort(t)
	for _, tt := range []struct {
		name string
		src  engine.Source
		kind fault.Kind
		want string
	}{
		{"wrong password", wrong, fault.Invalid, "wrong user or password"},
		{"nobody listens", closed, fault.Unavailable, "connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := engine.InspectSource(ctx, tt.src)
			if fault.KindOf(err) != tt.kind || !strings.Contains(fault.Message(err), tt.want) {
				t.Fatalf("InspectSource: %v (kind %v); want %v %q", err, fault.KindOf(err), tt.kind, tt.want)
			}
			if strings.Contains(err.Error(), tt.src.User.Password) {
				t.Errorf("error quotes the password: %v", err)
			}
		})
	}
}

// A node whose spec names a leader replicates from it, refuses writes, and
// comes back following it after a crash.
func TestLeaderSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	h := e.host(Options{})
	ctx := context.Background()
	leader, follower := e.spec("leader", false), e.spec("follower", true)
	follower.Leader = &engine.Endpoint{Addr: "127.0.0.1", Port: leader.Port}
	follower.LeaderUser = leader.Admin
	if _, err := h.Start(ctx, leader); err != nil {
		t.Fatal(err)
	}
	fn, err := h.Start(ctx, follower)
	if err != nil {
		t.Fatal(err)
	}
	lc := client(t, leader, leader.Admin)
	fc := client(t, follower, follower.Customer)
	if err := lc.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		v, err := fc.Get(ctx, "a").Result()
		if err != nil || v != "1" {
			return fmt.Errorf("a = %q, %v", v, err)
		}
		return nil
	})
	if err := fc.Set(ctx, "b", "2", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Errorf("write to the follower: %v, want READONLY", err)
	}
	if err := syscall.Kill(fn.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.Events.Wait(t, follower.ID, provisioner.EventRestarted, 0, 10*time.Second)
	if err := lc.Set(ctx, "c", "3", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		v, err := fc.Get(ctx, "c").Result()
		if err != nil || v != "3" {
			return fmt.Errorf("c = %q, %v", v, err)
		}
		return nil
	})
}

// A source that holds its snapshot back (repl-diskless-sync-delay) longer
// than StartTimeout lists the replica as waiting: the fork waits for it
// rather than copying.
func TestForkWaitsForADelayedSnapshot(t *testing.T) {
	src, srcSpec, dst, _ := forkPair(t)
	ctx := context.Background()
	if err := client(t, srcSpec, srcSpec.Admin).ConfigSet(ctx, "repl-diskless-sync-delay", "3").Err(); err != nil {
		t.Fatal(err)
	}
	info, err := engine.InspectSource(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	info.SyncKnown = false // as if the probe could not tell
	var phases []string
	res, err := engine.Fork(ctx, targetOf(dst), src, info, engine.ForkOptions{StartTimeout: time.Second, Progress: func(p engine.ForkProgress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != engine.ForkSync || res.Took < 2*time.Second {
		t.Errorf("Fork = %+v; want a sync that waited for the snapshot", res)
	}
	if !strings.Contains(strings.Join(phases, "|"), "the source is preparing its snapshot") {
		t.Errorf("phases %q do not show the wait", phases)
	}
	checkSample(t, client(t, dst, dst.Admin))
}
