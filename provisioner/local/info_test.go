package local

import (
	"testing"

	"larder/engine"
	"larder/provisioner"
)

func TestCountAppClients(t *testing.T) {
	list := "id=3 addr=127.0.0.1:5 laddr=127.0.0.1:6 fd=8 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22298 events=r cmd=client|list user=larder-admin redir=-1 resp=2\n" +
		"id=4 addr=127.0.0.1:7 laddr=127.0.0.1:6 fd=9 name= age=9 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1 events=r cmd=get user=default redir=-1 resp=2\n" +
		"id=5 addr=127.0.0.1:8 laddr=127.0.0.1:6 fd=10 name= age=9 idle=0 flags=S db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1 events=r cmd=replconf user=larder-repl redir=-1 resp=2\n"
	if got, want := countAppClients(list, "larder-admin", "larder-repl"), 1; got != want {
		t.Errorf("countAppClients = %d, want %d", got, want)
	}
}

func TestNodeInfo(t *testing.T) {
	text := "# Server\r\nredis_version:7.2.4\r\nvalkey_version:8.0.1\r\nuptime_in_seconds:42\r\n" +
		"# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:26214400\r\n" +
		"# Persistence\r\naof_enabled:1\r\n# Stats\r\ntotal_commands_processed:10\r\n# Replication\r\nrole:master\r\n" +
		"master_repl_offset:500\r\nslave0:ip=127.0.0.1,port=1,state=online,offset=420,lag=0\r\n"
	want := provisioner.NodeInfo{Role: "master", Version: "8.0.1", UsedMemoryBytes: 1 << 20, MaxMemoryBytes: 25 << 20,
		ConnectedClients: 3, AOFEnabled: true, UptimeSeconds: 42,
		Stats: engine.Stats{Commands: 10, PersistenceOK: true}, ReplOffset: 500, ReplLagBytes: 80}
	if got := nodeInfo(engine.ParseInfo(text)); got != want {
		t.Errorf("nodeInfo() = %+v, want %+v", got, want)
	}
	redis := nodeInfo(engine.ParseInfo("redis_version:7.0.15\r\naof_enabled:0\r\nrole:slave\r\n"))
	if redis.Version != "7.0.15" || redis.AOFEnabled || redis.Role != "slave" {
		t.Errorf("nodeInfo(redis) = %+v, want version 7.0.15, aof off, role slave", redis)
	}
}
