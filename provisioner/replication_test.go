package provisioner

import "testing"

func TestParseReplInfo(t *testing.T) {
	primary := "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=22151,state=online,offset=1234,lag=1\r\nmaster_failover_state:no-failover\r\nmaster_repl_offset:1300\r\n"
	p := parseReplInfo(primary)
	if p.Role != "master" || p.Offset != 1300 || p.FailoverState != "no-failover" || len(p.Replicas) != 1 {
		t.Fatalf("primary = %+v", p)
	}
	if r := p.Replicas[0]; r.Addr != "127.0.0.1" || r.Port != 22151 || r.State != "online" || r.Offset != 1234 || r.LagSeconds != 1 {
		t.Errorf("replica = %+v", r)
	}
	replica := "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:22150\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:1300\r\nmaster_repl_offset:1300\r\n"
	r := parseReplInfo(replica)
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
	syncing := parseReplInfo("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:22150\r\nmaster_link_status:down\r\nmaster_sync_in_progress:1\r\n")
	if syncing.InSync(Endpoint{"127.0.0.1", 22150}) {
		t.Errorf("a syncing replica reported in sync")
	}
}

func TestCountAppClients(t *testing.T) {
	list := "id=3 addr=127.0.0.1:5 laddr=127.0.0.1:6 fd=8 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22298 events=r cmd=client|list user=larder-admin redir=-1 resp=2\n" +
		"id=4 addr=127.0.0.1:7 laddr=127.0.0.1:6 fd=9 name= age=9 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1 events=r cmd=get user=default redir=-1 resp=2\n" +
		"id=5 addr=127.0.0.1:8 laddr=127.0.0.1:6 fd=10 name= age=9 idle=0 flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1 events=r cmd=replconf user=larder-repl redir=-1 resp=2\n"
	if got, want := countAppClients(list, "larder-admin", "larder-repl"), 1; got != want {
		t.Errorf("countAppClients = %d, want %d", got, want)
	}
}
