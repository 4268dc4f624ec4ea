package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"larder/api"
)

// TestFollowExternalLeader: an add-on follows a redis-server outside larder
// (read-only, the leader's writes arrive), keeps following through a broker
// restart and a restart in place, then unfollows and takes writes; its config
// vars never change.
func TestFollowExternalLeader(t *testing.T) {
	b := NewBroker(t)
	ctx := context.Background()
	leader := startPlainRedis(t)
	lc := leader.Admin()
	if err := lc.Set(ctx, "from-leader", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	before := configVars(t, b, "web")
	url := before["REDIS_URL"]
	c := redisClient(t, url)
	if err := c.Set(ctx, "mine", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	leaderURL := leader.URL("default", leader.Password)

	if r := b.Larder("redis:follow", "--url", leaderURL, "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "--confirm web") {
		t.Fatalf("follow without --confirm: exit %d, %q; want a refusal asking for --confirm web", r.Code, r.Stderr)
	}
	if r := b.Larder("redis:follow", "--url", url, "-a", "web", "--confirm", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "cannot follow itself") {
		t.Errorf("following itself: exit %d, %q; want a refusal", r.Code, r.Stderr)
	}
	r := b.MustLarder("redis:follow", "REDIS", "--url", leaderURL, "-a", "web", "--confirm", "web")
	if !strings.Contains(r.Stdout, "now follows redis://default:***@127.0.0.1") {
		t.Errorf("redis:follow stdout = %q", r.Stdout)
	}
	waitValue := func(key, want string) {
		t.Helper()
		WaitFor(t, 20*time.Second, key+" on the follower", func() error {
			v, err := c.Get(ctx, key).Result()
			if err != nil || v != want {
				return fmt.Errorf("%s = %q, %v", key, v, err)
			}
			return nil
		})
	}
	waitValue("from-leader", "1")
	// A planned switchover would hand the primary role to a node that does
	// not follow the leader: refused until unfollow.
	if r := b.Larder("redis:failover", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "unfollow") {
		t.Errorf("switchover while following: exit %d, %q; want a refusal naming redis:unfollow", r.Code, r.Stderr)
	}
	if err := lc.Set(ctx, "k1", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitValue("k1", "v1")
	if n, _ := c.Exists(ctx, "mine").Result(); n != 0 {
		t.Errorf("the follower kept its own data; it should hold the leader's")
	}
	if err := c.Set(ctx, "w", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Errorf("write to the follower: %v, want READONLY", err)
	}
	var fi *api.FollowInfo
	WaitFor(t, 10*time.Second, "redis:info to show the link up", func() error {
		fi = redisInfoOf(t, b, "web", "REDIS").Follow
		if fi == nil || !fi.LinkUp || fi.LagBytes < 0 {
			return fmt.Errorf("follow = %+v", fi)
		}
		return nil
	})
	if !strings.HasPrefix(fi.Leader, "redis://default:***@127.0.0.1:") {
		t.Errorf("leader shown as %q", fi.Leader)
	}
	text := b.MustLarder("redis:info", "-a", "web").Stdout
	if !strings.Contains(text, "Following") || !strings.Contains(text, "up, lag") {
		t.Errorf("redis:info lacks the follow:\n%s", text)
	}
	waitInSync(t, b, "web", nil) // the standby follows the primary meanwhile

	t.Run("survives a broker restart", func(t *testing.T) {
		b.Stop()
		if err := lc.Set(ctx, "k2", "v2", 0).Err(); err != nil {
			t.Fatal(err)
		}
		b.Start()
		waitValue("k2", "v2")
	})
	t.Run("survives a restart in place", func(t *testing.T) {
		pid, ok := 0, false
		for _, d := range nodeDirs(b) {
			conf, _ := os.ReadFile(filepath.Join(d, "node.conf"))
			if strings.Contains(string(conf), fmt.Sprintf("port %d\n", primaryPort(t, b, "web"))) {
				pid, ok = readPID(filepath.Join(d, "node.pid"))
				if !strings.Contains(string(conf), fmt.Sprintf("replicaof \"127.0.0.1\" %d", leader.Port)) {
					t.Errorf("the primary's config does not name the leader")
				}
			}
		}
		if !ok {
			t.Fatal("no pid of the primary")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		if err := lc.Set(ctx, "k3", "v3", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitValue("k3", "v3")
	})

	r = b.MustLarder("redis:unfollow", "-a", "web")
	if !strings.Contains(r.Stdout, "independent primary") {
		t.Errorf("redis:unfollow stdout = %q", r.Stdout)
	}
	if err := c.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Errorf("write after unfollow: %v", err)
	}
	if v, _ := c.Get(ctx, "k3").Result(); v != "v3" {
		t.Errorf("k3 after unfollow = %q, want the data kept", v)
	}
	if err := lc.Set(ctx, "k4", "v4", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, "k4").Result(); n != 0 {
		t.Errorf("a write to the old leader reached the add-on after unfollow")
	}
	if info := redisInfoOf(t, b, "web", "REDIS"); info.Follow != nil {
		t.Errorf("redis:info still shows a follow: %+v", info.Follow)
	}
	if r := b.Larder("redis:unfollow", "-a", "web"); r.Code == 0 || !strings.Contains(r.Stderr, "follows no leader") {
		t.Errorf("second unfollow: exit %d, %q", r.Code, r.Stderr)
	}
	if after := configVars(t, b, "web"); after["REDIS_URL"] != url || len(after) != len(before) {
		t.Errorf("config vars changed: %v → %v", before, after)
	}
	evs := eventsOf(t, b, "web", "REDIS")
	for _, want := range []string{"follow.start: following redis://default:***@", "follow.stop: stopped following"} {
		if !strings.Contains(evs, want) {
			t.Errorf("events lack %q:\n%s", want, evs)
		}
	}
	noSecret(t, leader.Password, map[string]string{"events": evs, "redis:info": text, "broker log": b.logs.String()})
	for _, d := range nodeDirs(b) {
		conf, _ := os.ReadFile(filepath.Join(d, "node.conf"))
		if strings.Contains(string(conf), leader.Password) {
			t.Errorf("the leader's password is still in %s after unfollow", d)
		}
	}
}
