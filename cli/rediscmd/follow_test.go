package rediscmd

import (
	"strings"
	"testing"

	"larder/api"
	"larder/cli/ui"
)

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
			var f ui.Fields
			followFields(&f, tt.in)
			var b strings.Builder
			if err := f.Write(&b); err != nil {
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
