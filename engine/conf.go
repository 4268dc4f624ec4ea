package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"larder/fault"
)

// Files in a node's directory.
const (
	ConfFile   = "node.conf" // the engine's config, rendered from the spec
	ACLFile    = "users.acl" // the engine's users, rendered from the spec
	PidFile    = "node.pid"  // written by the engine
	LogFile    = "node.log"  // the engine's own log
	OutFile    = "node.out"  // the process's stdout/stderr (early startup errors)
	AppendDir  = "appendonlydir"
	AppendName = "appendonly.aof"
)

// Permissions: a node's files hold passwords.
const (
	DirPerm  os.FileMode = 0o700
	FilePerm os.FileMode = 0o600
)

// evictionPolicies are the maxmemory-policy values the engines accept.
var evictionPolicies = map[string]bool{
	"noeviction": true, "allkeys-lru": true, "allkeys-lfu": true, "allkeys-random": true,
	"volatile-lru": true, "volatile-lfu": true, "volatile-random": true, "volatile-ttl": true,
}

// keyspaceEventFlags are the letters notify-keyspace-events accepts.
const keyspaceEventFlags = "KEg$lshzxetmdnA"

// normalize fills a spec's defaults: the well-known user names and the
// eviction policy.
func Normalize(spec Spec) Spec {
	if spec.Admin.Name == "" {
		spec.Admin.Name = AdminUser
	}
	if spec.Customer.Name == "" {
		spec.Customer.Name = CustomerUser
	}
	if spec.MaxMemoryPolicy == "" {
		spec.MaxMemoryPolicy = "noeviction"
	}
	return spec
}

// Validate checks everything that ends up in a node's files, so that a
// bad value is refused with a clear message instead of an engine that does not
// start. Its messages never quote a password.
func Validate(spec Spec) error {
	bad := func(format string, args ...any) error {
		return fault.E(fault.Invalid, "node spec %s: "+format, append([]any{spec.Name}, args...)...)
	}
	switch {
	case spec.ID == "":
		return bad("empty id")
	case !SafeName(spec.Name):
		return fault.E(fault.Invalid, "node spec: name %q must be letters, digits, '-', '_' or '.'", Truncate(spec.Name, 80))
	case spec.Port < 1 || spec.Port > 65535:
		return bad("port %d out of range", spec.Port)
	case spec.MaxMemoryBytes < 0:
		return bad("negative maxmemory")
	case spec.MaxClients < 1:
		return bad("maxclients must be at least 1")
	case spec.Timeout < 0:
		return bad("negative timeout")
	case !evictionPolicies[spec.MaxMemoryPolicy]:
		return bad("unknown maxmemory policy %q", Truncate(spec.MaxMemoryPolicy, 40))
	case strings.Trim(spec.NotifyKeyspaceEvents, keyspaceEventFlags) != "":
		return bad("notify-keyspace-events %q: only the letters %s are allowed",
			Truncate(spec.NotifyKeyspaceEvents, 40), keyspaceEventFlags)
	case spec.Admin.Name == spec.Customer.Name:
		return bad("admin and customer users must differ")
	}
	seen := map[string]bool{}
	users := append([]User{spec.Admin, spec.Customer}, spec.ExtraUsers...)
	if spec.Repl.Name != "" {
		users = append(users, spec.Repl)
	}
	if spec.Monitor.Name != "" {
		users = append(users, spec.Monitor)
	}
	for _, e := range []*Endpoint{spec.ReplicaOf, spec.FallbackReplicaOf, spec.Leader} {
		if e != nil && (e.Port < 1 || e.Port > 65535 || strings.ContainsAny(e.Addr, " \"\x00\r\n") || e.Addr == "") {
			return bad("bad replication endpoint %q", Truncate(e.String(), 80))
		}
	}
	if (spec.ReplicaOf != nil || spec.FallbackReplicaOf != nil) && spec.Repl.Name == "" {
		return bad("a replicating node needs a replication user")
	}
	if spec.Leader != nil && (spec.LeaderUser.Password == "" || strings.ContainsAny(spec.LeaderUser.Name+spec.LeaderUser.Password, "\x00\r\n")) {
		return bad("a follower needs the leader's password, without control characters")
	}
	if spec.CustomerAlt != "" {
		if err := checkPassword(spec.CustomerAlt); err != nil {
			return bad("second password of user %s: %v", spec.Customer.Name, err)
		}
	}
	for _, u := range users {
		if seen[u.Name] {
			return bad("user %s listed twice", Truncate(u.Name, 40))
		}
		seen[u.Name] = true
		if !SafeName(u.Name) {
			return bad("user name %q must be letters, digits, '-', '_' or '.'", Truncate(u.Name, 40))
		}
		if err := checkPassword(u.Password); err != nil {
			return bad("password of user %s: %v", u.Name, err)
		}
	}
	return nil
}

// SafeName reports whether s can be a directory name, a user name and a log
// field without quoting.
func SafeName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 128 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// checkPassword refuses passwords the ACL file cannot carry verbatim: the
// engine splits its lines on whitespace and treats quotes and backslashes
// specially. The broker's passwords are hex, so this only catches bugs.
func checkPassword(pw string) error {
	if pw == "" {
		return fmt.Errorf("empty")
	}
	if len(pw) > 512 {
		return fmt.Errorf("longer than 512 bytes")
	}
	for i := 0; i < len(pw); i++ {
		c := pw[i]
		if c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
			return fmt.Errorf("contains whitespace, a quote, a backslash or a non-ASCII byte")
		}
	}
	return nil
}

// RenderConfig renders a node's engine config. dir is the node's directory
// (absolute); addr is the address it binds to. The only secret in this file is
// a standby's (or a follower's) masterauth (the engine reads it from nowhere
// else); users' passwords live in the ACL file. Both are 0600.
func RenderConfig(spec Spec, addr, dir string) ([]byte, error) {
	spec = Normalize(spec)
	if err := Validate(spec); err != nil {
		return nil, err
	}
	for _, s := range []string{addr, dir} {
		if strings.ContainsAny(s, "\x00\r\n") {
			return nil, fault.E(fault.Invalid, "render config %s: control character in a path or address", spec.Name)
		}
	}
	var b bytes.Buffer
	line := func(key string, value any) { fmt.Fprintf(&b, "%s %v\n", key, value) }
	b.WriteString("# Written by larder from the node's spec; edits are lost on restart.\n")
	line("port", spec.Port)
	line("bind", quote(addr))
	line("protected-mode", "yes")
	line("daemonize", "no")
	line("supervised", "no")
	line("dir", quote(dir))
	line("aclfile", quote(filepath.Join(dir, ACLFile)))
	line("pidfile", quote(filepath.Join(dir, PidFile)))
	line("logfile", quote(filepath.Join(dir, LogFile)))
	line("loglevel", "notice")
	line("always-show-logo", "no")
	// The config path comes right after the executable so that it survives in
	// /proc/<pid>/cmdline even when the title is truncated: it is how an
	// adopted process is told apart from another one that reused its pid.
	line("set-proc-title", "yes")
	line("proc-title-template", quote("{title} {config-file} {listen-addr} {server-mode}"))
	line("maxmemory", spec.MaxMemoryBytes)
	line("maxmemory-policy", spec.MaxMemoryPolicy)
	line("maxclients", spec.MaxClients+ReservedClients(spec))
	line("timeout", spec.Timeout)
	line("notify-keyspace-events", quote(spec.NotifyKeyspaceEvents))
	line("enable-debug-command", "no")
	line("enable-module-command", "no")
	line("enable-protected-configs", "no")
	line("save", `""`) // no RDB snapshots: persistence is the AOF or nothing
	// Replication: a new standby's full sync streams straight from memory and
	// starts at once, so a pair is in sync within milliseconds of its start.
	line("repl-diskless-sync", "yes")
	line("repl-diskless-sync-delay", 0)
	line("replica-read-only", "yes")
	line("repl-backlog-size", "16mb")
	if spec.Repl.Name != "" {
		line("masteruser", spec.Repl.Name)
		line("masterauth", quote(spec.Repl.Password))
	}
	if spec.ReplicaOf != nil {
		line("replicaof", fmt.Sprintf("%s %d", quote(spec.ReplicaOf.Addr), spec.ReplicaOf.Port))
	} else if spec.Leader != nil {
		// A follower of an external leader: its credentials replace the
		// replication user's (the later line wins).
		line("masteruser", quote(spec.LeaderUser.Name))
		line("masterauth", quote(spec.LeaderUser.Password))
		line("replicaof", fmt.Sprintf("%s %d", quote(spec.Leader.Addr), spec.Leader.Port))
	}
	if spec.Persistence {
		line("appendonly", "yes")
		line("appendfsync", "everysec")
		line("appenddirname", quote(AppendDir))
		line("appendfilename", quote(AppendName))
		line("aof-use-rdb-preamble", "yes")
		line("auto-aof-rewrite-percentage", 100)
		line("auto-aof-rewrite-min-size", "64mb")
	} else {
		line("appendonly", "no")
	}
	return b.Bytes(), nil
}

// RenderACL renders a node's ACL file: the admin user with every right and the
// customer's user with CustomerACL. When the customer's user is not `default`,
// the default user is switched off so that it cannot be used without a
// password.
func RenderACL(spec Spec) ([]byte, error) {
	spec = Normalize(spec)
	if err := Validate(spec); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, u := range aclRules(spec) {
		fmt.Fprintf(&b, "user %s %s\n", u.name, strings.Join(u.rules, " "))
	}
	return b.Bytes(), nil
}

// quote renders s as a double-quoted engine config string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// Passwords lists every secret in a spec, so none leaks into an error.
func (spec Spec) Passwords() []string {
	out := []string{spec.Admin.Password, spec.Customer.Password, spec.CustomerAlt, spec.Repl.Password, spec.Monitor.Password, spec.LeaderUser.Password}
	for _, u := range spec.ExtraUsers {
		out = append(out, u.Password)
	}
	return out
}

// HasAOF reports whether a node directory holds an append-only file.
func HasAOF(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, AppendDir, AppendName+".manifest"))
	return err == nil
}
