package engine

import (
	"strconv"
	"strings"
)

// Info is a node's INFO reply (any sections of it), parsed once into what
// larder reads from it: the host's live figures, the replication state the
// coordinator, the observers and a fork watch, and the keyspace a fork or a
// restore counts. A section that was not asked for leaves its fields zero.
type Info struct {
	// Version is valkey_version, else redis_version: Valkey reports both,
	// the latter kept for compatibility.
	Version          string
	UptimeSeconds    int64
	UsedMemoryBytes  int64
	MaxMemoryBytes   int64
	ConnectedClients int
	AOFEnabled       bool
	Loading          bool    // loading or async_loading: a snapshot or AOF is being loaded
	LoadedPerc       float64 // loading_loaded_perc

	Repl     ReplInfo
	Keyspace []Keyspace // in the order INFO lists them (by database number)
	Stats    Stats
}

// Stats are a node's counters and health flags for metrics: counters only
// grow while the process lives (a rate is the difference of two readings),
// and the flags say whether its last save and AOF write worked.
type Stats struct {
	CPUSeconds     float64 `json:"cpu_seconds"` // used_cpu_sys + used_cpu_user
	Commands       int64   `json:"commands"`    // total_commands_processed
	KeyspaceHits   int64   `json:"keyspace_hits"`
	KeyspaceMisses int64   `json:"keyspace_misses"`
	EvictedKeys    int64   `json:"evicted_keys"`
	ExpiredKeys    int64   `json:"expired_keys"`
	// PersistenceOK is false when the last RDB save, AOF write or AOF
	// rewrite failed (rdb_last_bgsave_status, aof_last_write_status,
	// aof_last_bgrewrite_status are "err").
	PersistenceOK bool `json:"persistence_ok"`
}

// Keyspace is one database of INFO keyspace: "db0:keys=12,expires=3,avg_ttl=0".
type Keyspace struct {
	DB      int
	Keys    int64
	Expires int64
}

// ReplInfo is a node's replication state, from INFO replication.
type ReplInfo struct {
	Role          string // "master" or "slave"
	Offset        int64  // master_repl_offset (primary) or slave_repl_offset (replica)
	MasterOffset  int64  // master_repl_offset, whatever the role
	FailoverState string // master_failover_state

	// On a primary: its replicas.
	Replicas []ReplicaInfo

	// On a replica.
	MasterHost       string
	MasterPort       int
	LinkUp           bool
	LastIOSecondsAgo int
	LinkDownSeconds  int // how long the link has been down; 0 while up
	SyncInProgress   bool
	// A sync under way: bytes of the snapshot received, its size (0 when
	// not known), and seconds since the primary last sent anything.
	SyncReadBytes  int64
	SyncTotalBytes int64
	SyncLastIOAgo  int64
}

// ReplicaInfo is one replica as its primary sees it.
type ReplicaInfo struct {
	Endpoint
	State      string // online, wait_bgsave, send_bulk
	Offset     int64
	LagSeconds int
}

// ParseInfo reads an INFO reply. Unknown and malformed lines are skipped: a
// newer engine adds fields, and a figure it does not report reads as zero.
func ParseInfo(text string) Info {
	in := Info{Stats: Stats{PersistenceOK: true}}
	r := &in.Repl
	slaveOffset := int64(0)
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		num := func() int64 { n, _ := strconv.ParseInt(v, 10, 64); return n }
		switch k {
		case "valkey_version":
			in.Version = v
		case "redis_version":
			if in.Version == "" {
				in.Version = v
			}
		case "uptime_in_seconds":
			in.UptimeSeconds = num()
		case "used_memory":
			in.UsedMemoryBytes = num()
		case "maxmemory":
			in.MaxMemoryBytes = num()
		case "connected_clients":
			in.ConnectedClients = int(num())
		case "aof_enabled":
			in.AOFEnabled = v == "1"
		case "loading", "async_loading":
			in.Loading = in.Loading || v == "1"
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			in.Stats.CPUSeconds += f
		case "total_commands_processed":
			in.Stats.Commands = num()
		case "keyspace_hits":
			in.Stats.KeyspaceHits = num()
		case "keyspace_misses":
			in.Stats.KeyspaceMisses = num()
		case "evicted_keys":
			in.Stats.EvictedKeys = num()
		case "expired_keys":
			in.Stats.ExpiredKeys = num()
		case "rdb_last_bgsave_status", "aof_last_write_status", "aof_last_bgrewrite_status":
			in.Stats.PersistenceOK = in.Stats.PersistenceOK && v != "err"
		case "loading_loaded_perc":
			in.LoadedPerc, _ = strconv.ParseFloat(v, 64)
		case "role":
			r.Role = v
		case "master_repl_offset":
			r.MasterOffset = num()
		case "slave_repl_offset":
			slaveOffset = num()
		case "master_failover_state":
			r.FailoverState = v
		case "master_host":
			r.MasterHost = v
		case "master_port":
			r.MasterPort = int(num())
		case "master_link_status":
			r.LinkUp = v == "up"
		case "master_last_io_seconds_ago":
			r.LastIOSecondsAgo = int(num())
		case "master_link_down_since_seconds":
			r.LinkDownSeconds = int(num())
		case "master_sync_in_progress":
			r.SyncInProgress = v == "1"
		case "master_sync_read_bytes":
			r.SyncReadBytes = num()
		case "master_sync_total_bytes":
			r.SyncTotalBytes = num()
		case "master_sync_last_io_seconds_ago":
			r.SyncLastIOAgo = num()
		default:
			switch {
			case strings.HasPrefix(k, "slave") && strings.Contains(v, "ip="):
				r.Replicas = append(r.Replicas, parseReplica(v))
			case strings.HasPrefix(k, "db"):
				if db, err := strconv.Atoi(k[2:]); err == nil && db >= 0 {
					in.Keyspace = append(in.Keyspace, parseKeyspace(db, v))
				}
			}
		}
	}
	r.Offset = r.MasterOffset
	if r.Role != "master" {
		r.Offset = slaveOffset
	}
	if r.LinkUp {
		r.LinkDownSeconds = 0
	}
	return in
}

// parseReplica reads a primary's line about one replica:
// "ip=127.0.0.1,port=22151,state=online,offset=1234,lag=1".
func parseReplica(v string) ReplicaInfo {
	var ri ReplicaInfo
	for _, f := range strings.Split(v, ",") {
		fk, fv, _ := strings.Cut(f, "=")
		switch fk {
		case "ip":
			ri.Addr = fv
		case "port":
			ri.Port, _ = strconv.Atoi(fv)
		case "state":
			ri.State = fv
		case "offset":
			ri.Offset, _ = strconv.ParseInt(fv, 10, 64)
		case "lag":
			ri.LagSeconds, _ = strconv.Atoi(fv)
		}
	}
	return ri
}

// parseKeyspace reads "keys=12,expires=3,avg_ttl=0".
func parseKeyspace(db int, v string) Keyspace {
	d := Keyspace{DB: db}
	for _, f := range strings.Split(v, ",") {
		fk, fv, _ := strings.Cut(f, "=")
		n, _ := strconv.ParseInt(fv, 10, 64)
		switch fk {
		case "keys":
			d.Keys = n
		case "expires":
			d.Expires = n
		}
	}
	return d
}
