package cli

import (
	"strings"
	"testing"

	"larder/api"
)

func TestFollowUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"redis:follow", "-a", "web"}, "no leader given: add --url"},
		{"no app", []string{"redis:follow", "--url", "redis://u:p@h:1"}, "no app given"},
		{"two names", []string{"redis:follow", "A", "B", "--url", "redis://u:p@h:1", "-a", "web"}, `unexpected argument "B"`},
		{"unfollow two names", []string{"redis:unfollow", "A", "B", "-a", "web"}, `unexpected argument "B"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("larder %v: exit %d, stderr %q; want usage error %q", tt.args, code, stderr, tt.want)
			}
		})
	}
}

func TestAddForkFlag(t *testing.T) {
	req := api.AddonCreate{Plan: "larder-redis:mini"}
	if err := addForkFlag(&req, ""); err != nil || req.Config != nil {
		t.Fatalf("no --fork: %+v, %v", req, err)
	}
	if err := addForkFlag(&req, "redis://u:p@h:1"); err != nil || req.Config["fork"] != "redis://u:p@h:1" {
		t.Fatalf("--fork: %+v, %v", req, err)
	}
	if err := addForkFlag(&req, "redis://u:p@h:1"); err != nil {
		t.Errorf("the same source twice: %v", err)
	}
	if err := addForkFlag(&req, "app::REDIS"); err == nil || !strings.Contains(errMessage(err), "two fork sources") {
		t.Errorf("two sources: %v", err)
	}
	req, err := createRequest([]string{"larder-redis:mini", "--", "--fork", "app::REDIS"}, "")
	if err != nil || req.Config["fork"] != "app::REDIS" {
		t.Errorf("-- --fork: %+v, %v", req, err)
	}
}

func TestFollowFields(t *testing.T) {
	tests := []struct {
		name string
		in   api.RedisInfo
		want []string
	}{
		{"fork running", api.RedisInfo{Fork: &api.ForkInfo{Source: "redis://u:***@h:1", State: "copying", Method: "copy",
			Reason: "the source refuses SYNC/PSYNC (NOPERM)", KeysDone: 5, KeysTotal: 10, BytesDone: 2048}},
			[]string{"Forked From: redis://u:***@h:1 by copy (SCAN + DUMP/RESTORE), copying: 5 of 10 keys, 2 KB",
				"Fork Method: copy, because the source refuses SYNC/PSYNC (NOPERM)"}},
		{"fork done", api.RedisInfo{Fork: &api.ForkInfo{Source: "web::redis-a", State: "done", Method: "sync", KeysDone: 7}},
			[]string{"Forked From: web::redis-a by replication (SYNC), 7 keys"}},
		{"following", api.RedisInfo{Follow: &api.FollowInfo{Leader: "redis://u:***@h:1", Live: true, LinkUp: true, LagBytes: 0, LastIOSecondsAgo: 1}},
			[]string{"Following:   redis://u:***@h:1 (read-only)", "Follower Link: up, lag 0 bytes, last sync 1s ago"}},
		{"link down", api.RedisInfo{Follow: &api.FollowInfo{Leader: "l", Live: true, LinkDownSeconds: 12, LagBytes: -1}},
			[]string{"Follower Link: down for 12s"}},
		{"node silent", api.RedisInfo{Follow: &api.FollowInfo{Leader: "l", Error: "node x does not answer"}},
			[]string{"Follower Link: unknown: node x does not answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f fields
			followFields(&f, tt.in)
			var b strings.Builder
			if err := f.write(&b); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(strings.Fields(b.String()), " ")
			for _, w := range tt.want {
				if w = strings.Join(strings.Fields(w), " "); !strings.Contains(got, w) {
					t.Errorf("redis:info lines %q lack %q", got, w)
				}
			}
		})
	}
}
