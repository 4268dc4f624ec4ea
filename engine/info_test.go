package engine

import (
	"fmt"
	"testing"
)

func TestParseInfoStats(t *testing.T) {
	const text = "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\n# Stats\r\ntotal_commands_processed:1234\r\n" +
		"keyspace_hits:90\r\nkeyspace_misses:10\r\nevicted_keys:3\r\nexpired_keys:7\r\n# Persistence\r\n" +
		"rdb_last_bgsave_status:ok\r\naof_last_write_status:%s\r\naof_last_bgrewrite_status:ok\r\n"
	for _, tt := range []struct {
		aof    string
		wantOK bool
	}{{"ok", true}, {"err", false}} {
		got := ParseInfo(fmt.Sprintf(text, tt.aof)).Stats
		want := Stats{CPUSeconds: 1.75, Commands: 1234, KeyspaceHits: 90, KeyspaceMisses: 10, EvictedKeys: 3, ExpiredKeys: 7, PersistenceOK: tt.wantOK}
		if got != want {
			t.Errorf("aof_last_write_status:%s: Stats = %+v, want %+v", tt.aof, got, want)
		}
	}
	if !ParseInfo("role:master\r\n").Stats.PersistenceOK {
		t.Error("a reply without persistence fields reads as failing; want ok")
	}
}
