package engine

import "testing"

func TestParseReplInfo(t *testing.T) {
	primary := "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=22151,state=online,offset=1234,lag=1\r\nmaster_failover_state:no-failover\r\nmaster_repl_offset:1300\r\n"
	p := ParseInfo(primary).Repl
	if p.Role != "master" || p.Offset != 1300 || p.FailoverState != "no-failover" || len(p.Replicas) != 1 {
		t.Fatalf("primary = %+v", p)
	}
	if r := p.Replicas[0]; r.Addr != "127.0.0.1" || r.Port != 22151 || r.State != "online" || r.Offset != 1234 || r.LagSeconds != 1 {
		t.Errorf("replica = %+v", r)
	}
	replica := "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:22150\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:1300\r\nmaster_repl_offset:1300\r\n"
	r := ParseInfo(replica).Repl
	if r.Role != "slave" || !r.LinkUp || r.SyncInProgress || r.MasterPort != 22150 || r.Offset != 1300 {
		t.Fatalf("replica = %+v", r)
	}
	tests := []struct {
		name    string
		primary Endpoint
		want    bool
	}{
		{"same primary", Endpoint{"127.0.0.1", 22150}, true},
		{"other port", Endpoint{"127.0.0.1", 22151}, false},
		{"other addr", Endpoint{"198.18.0.2", 22150}, false},
	}
	for _, tt := range tests {
		if got := r.InSync(tt.primary); got != tt.want {
			t.Errorf("%s: InSync = %v, want %v", tt.name, got, tt.want)
		}
	}
	syncing := ParseInfo("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:22150\r\nmaster_link_status:down\r\nmaster_sync_in_progress:1\r\n").Repl
	if syncing.InSync(Endpoint{"127.0.0.1", 22150}) {
		t.Errorf("a syncing replica reported in sync")
	}
}
