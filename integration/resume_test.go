package integration

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/catalog"
)

// restartAfterCrash waits until b exits at its --crash-at point, then starts
// it again, on the same data, without one: as after a kill -9.
func (b *Broker) restartAfterCrash() {
	b.t.Helper()
	select {
	case <-b.done:
	case <-time.After(60 * time.Second):
		b.t.Fatal("the broker did not reach its crash point")
	}
	if !strings.Contains(b.logs.String(), "crashing on purpose") {
		b.t.Fatalf("the broker exited, but not at its crash point:\n%s", b.logs.String())
	}
	b.cmd = nil
	var extra []string
	for _, e := range b.extra {
		if !strings.HasPrefix(e, "LARDER_CRASH_AT=") {
			extra = append(extra, e)
		}
	}
	b.extra = extra
	b.Start()
}

// liveNode is a node process found under a data directory, reached as
// larder's admin user.
type liveNode struct {
	Port  int
	Dir   string
	Admin *redis.Client
}

// liveNodes lists the nodes running under dataDir, from their files.
func liveNodes(t *testing.T, dataDir string) []liveNode {
	t.Helper()
	var out []liveNode
	confs, _ := filepath.Glob(filepath.Join(dataDir, "nodes", "*", "node.conf"))
	for _, conf := range confs {
		dir := filepath.Dir(conf)
		pid, ok := readPID(filepath.Join(dir, "node.pid"))
		if !ok || !processAlive(pid) {
			continue
		}
		data, _ := os.ReadFile(conf)
		port := 0
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "port "); ok {
				port, _ = strconv.Atoi(v)
			}
		}
		pw := aclPassword(t, dir, "larder-admin")
		if port == 0 || len(pw) == 0 {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Username: "larder-admin", Password: pw[0],
			MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
		t.Cleanup(func() { c.Close() })
		out = append(out, liveNode{Port: port, Dir: dir, Admin: c})
	}
	return out
}

// aclPassword reads the passwords of user from a node's users.acl.
func aclPassword(t *testing.T, dir, user string) []string {
	t.Helper()
	acl, err := os.ReadFile(filepath.Join(dir, "users.acl"))
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(acl), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == "user" && f[1] == user {
			for _, tok := range f {
				if p, ok := strings.CutPrefix(tok, ">"); ok {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// waitOnPlan waits until store and nodes agree that the add-on of app runs
// on plan: redis:info names it, as many nodes run as the plan has (a standby
// in sync where it has one, none where it has none), and every node's
// maxmemory, maxclients and persistence are the plan's.
func waitOnPlan(t *testing.T, b *Broker, app, plan string) {
	t.Helper()
	svc, err := catalog.Builtin().Service("larder-redis")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Plan(plan)
	if err != nil {
		t.Fatal(err)
	}
	// larder's own connections lie outside the plan's limit: the held one,
	// and on a pair's nodes the replication link.
	reserved := 1
	if p.HA {
		reserved = 2
	}
	want := map[string]string{"maxmemory": fmt.Sprint(p.MaxMemoryBytes), "maxclients": fmt.Sprint(p.MaxClients + reserved), "appendonly": "no"}
	nodes := 1
	if p.Persistence {
		want["appendonly"] = "yes"
	}
	if p.HA {
		nodes = 2
	}
	WaitFor(t, 30*time.Second, "store and nodes on "+plan, func() error {
		infos, err := b.Client().RedisInfo(context.Background(), app, "")
		if err != nil || len(infos) != 1 {
			return fmt.Errorf("redis:info: %v, %v", infos, err)
		}
		info := infos[0]
		if info.Plan != "larder-redis:"+plan {
			return fmt.Errorf("store says %s", info.Plan)
		}
		if p.HA && (info.HA == nil || !info.HA.InSync || info.HA.Rebuilding) {
			return fmt.Errorf("ha = %+v (%s), want a standby in sync", info.HA, info.HAStatus)
		}
		live := liveNodes(t, b.DataDir)
		if len(live) != nodes {
			return fmt.Errorf("%d nodes running, want %d", len(live), nodes)
		}
		for _, n := range live {
			for k, v := range want {
				m, err := n.Admin.ConfigGet(context.Background(), k).Result()
				if err != nil || m[k] != v {
					return fmt.Errorf("node on port %d: %s = %q (%v), want %s", n.Port, k, m[k], err, v)
				}
			}
		}
		return nil
	})
}

// waitOperationEnd waits until operation id has finished and returns it.
func waitOperationEnd(t *testing.T, b *Broker, id string) api.Operation {
	t.Helper()
	var op api.Operation
	WaitFor(t, 60*time.Second, "operation "+id+" to end", func() (err error) {
		op, err = b.Client().Operation(context.Background(), id)
		if err == nil && !op.Done() {
			err = fmt.Errorf("%s: %s", op.State, op.Progress)
		}
		return err
	})
	return op
}

// operationEnded waits until the add-ons' latest operation of kind has
// ended, and checks it ended as wanted: succeeded, with one done event, or
// failed saying it was rolled back, with one undone event.
func operationEnded(t *testing.T, b *Broker, app, kind string, rolledBack bool, done, undone string) {
	t.Helper()
	op := waitOperationEnd(t, b, lastOperation(t, b, kind))
	event := done
	if rolledBack {
		event = undone
	}
	switch {
	case rolledBack && (op.State != api.OpFailed || !strings.Contains(op.Error, "rolled back")):
		t.Errorf("operation = %s %q, want failed and rolled back", op.State, op.Error)
	case !rolledBack && op.State != api.OpSucceeded:
		t.Errorf("operation = %s %q, want succeeded", op.State, op.Error)
	}
	if k := eventKinds(t, b, app); k[event] != 1 {
		t.Errorf("events %v: want one %s", k, event)
	}
}

// TestPlanChangeResumes: the broker dies (kill -9 at a crash point) at each
// step of a plan change; the restarted broker finishes it or rolls it back,
// says which, and the add-on ends on one plan with all its keys.
func TestPlanChangeResumes(t *testing.T) {
	for _, tt := range []struct {
		from, to, point, ends string
	}{
		{"mini", "premium-0", "plan_change.standby_claimed", "mini"},
		{"mini", "premium-0", "plan_change.standby_started", "mini"},
		{"mini", "premium-0", "plan_change.standby_synced", "mini"},
		{"mini", "premium-0", "plan_change.applied", "mini"},
		{"mini", "premium-0", "plan_change.committed", "premium-0"},
		{"premium-0", "mini", "plan_change.applied", "premium-0"},
		{"premium-0", "mini", "plan_change.committed", "mini"},
		{"premium-0", "mini", "plan_change.standby_removed", "mini"},
		{"premium-0", "premium-1", "plan_change.applied", "premium-0"},
		{"premium-0", "premium-1", "plan_change.committed", "premium-1"},
	} {
		t.Run(tt.from+"→"+tt.to+"@"+tt.point, func(t *testing.T) {
			b := NewBroker(t, "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_CRASH_AT="+tt.point)
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:"+tt.from, "-a", "web", "--wait")
			waitOnPlan(t, b, "web", tt.from)
			writeKeys(t, configVars(t, b, "web")["REDIS_URL"], 100)
			// The crash may cut the answer short; the operation is in the store.
			b.Client().UpgradeAddon(context.Background(), "web", "REDIS", "larder-redis:"+tt.to)
			b.restartAfterCrash()
			operationEnded(t, b, "web", "plan_change", tt.ends == tt.from, "plan_change.done", "plan_change.rolled_back")
			waitOnPlan(t, b, "web", tt.ends)
			keysKept(t, configVars(t, b, "web")["REDIS_URL"], 100)
		})
	}
}

// TestPlanChangeFailureRollsBack: an upgrade whose standby cannot be built
// (no port left for it) fails as a whole: the add-on stays on its plan,
// store and node agree, an event says it was rolled back, and the keys stay.
func TestPlanChangeFailureRollsBack(t *testing.T) {
	b := NewBroker(t)
	b.Stop()
	b.Ports[1] = b.Ports[0] // room for one node only
	b.Start()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	writeKeys(t, configVars(t, b, "web")["REDIS_URL"], 100)
	r := b.Larder("addons:upgrade", "REDIS", "larder-redis:premium-0", "-a", "web")
	if r.Code == 0 || !strings.Contains(r.Stderr, "no free port") {
		t.Errorf("upgrade with no port for the standby: exit %d, stderr %q; want a failure naming the cause", r.Code, r.Stderr)
	}
	if k := eventKinds(t, b, "web"); k["plan_change.rolled_back"] != 1 {
		t.Errorf("events %v: want one plan_change.rolled_back", k)
	}
	waitOnPlan(t, b, "web", "mini")
	keysKept(t, configVars(t, b, "web")["REDIS_URL"], 100)
}

// nodeRoles maps the port of every running node to its role (ROLE).
func nodeRoles(t *testing.T, b *Broker) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, n := range liveNodes(t, b.DataDir) {
		r, err := n.Admin.Do(context.Background(), "ROLE").Slice()
		if err != nil || len(r) == 0 {
			out[n.Port] = fmt.Sprintf("unreadable: %v", err)
			continue
		}
		out[n.Port] = fmt.Sprint(r[0])
	}
	return out
}

// TestSwitchoverResumes: the broker dies at each step of a planned
// switchover; the restarted broker completes it (the nodes swapped) or rolls
// it back (they did not), and store and nodes agree on the primary.
func TestSwitchoverResumes(t *testing.T) {
	for _, tt := range []struct {
		name, point string
		swapped     bool
		// tamper changes the nodes while the broker is down, as a crash
		// at a point no crash point reaches would have left them.
		tamper func(t *testing.T, primary, standby liveNode)
	}{
		{"before the handover", "switchover.started", false, nil},
		{"paused, before the commit", "switchover.swap", false, nil},
		{"after the commit", "switchover.committed", true, nil},
		{"standby promoted, primary not yet demoted", "switchover.started", false, func(t *testing.T, primary, standby liveNode) {
			ctx := context.Background()
			if err := primary.Admin.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
				t.Fatal(err)
			}
			if err := standby.Admin.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBroker(t, "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_CRASH_AT="+tt.point)
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
			ha := waitInSync(t, b, "web", nil)
			writeKeys(t, configVars(t, b, "web")["REDIS_URL"], 100)
			url0 := configVars(t, b, "web")["REDIS_URL"]
			port0 := primaryPort(t, b, "web")
			b.Client().Failover(context.Background(), "web", "REDIS") // the crash may cut the answer short
			if tt.tamper != nil {
				select {
				case <-b.done:
				case <-time.After(60 * time.Second):
					t.Fatal("the broker did not reach its crash point")
				}
				var primary, standby liveNode
				for _, n := range liveNodes(t, b.DataDir) {
					if n.Port == port0 {
						primary = n
					} else {
						standby = n
					}
				}
				tt.tamper(t, primary, standby)
			}
			b.restartAfterCrash()
			operationEnded(t, b, "web", "switchover", !tt.swapped, "switchover", "switchover.rolled_back")
			after := waitInSync(t, b, "web", nil)
			if url1 := configVars(t, b, "web")["REDIS_URL"]; url1 != url0 {
				t.Errorf("REDIS_URL changed: %s, want %s", url1, url0)
			}
			port1 := primaryPort(t, b, "web")
			if got := port1 != port0; got != tt.swapped {
				t.Errorf("primary moved = %v, want %v", got, tt.swapped)
			}
			if got := after.Epoch > ha.Epoch; got != tt.swapped {
				t.Errorf("epoch %d → %d; want bumped = %v", ha.Epoch, after.Epoch, tt.swapped)
			}
			WaitFor(t, 10*time.Second, "the recorded primary to be the nodes' primary", func() error {
				roles := nodeRoles(t, b)
				if len(roles) != 2 || roles[port1] != "master" {
					return fmt.Errorf("roles %v; store's primary is on port %d", roles, port1)
				}
				for p, r := range roles {
					if p != port1 && r != "slave" {
						return fmt.Errorf("roles %v: two primaries", roles)
					}
				}
				return nil
			})
			keysKept(t, configVars(t, b, "web")["REDIS_URL"], 100)
			c := redisClient(t, configVars(t, b, "web")["REDIS_URL"])
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.Set(wctx, "after", "1", 0).Err(); err != nil {
				t.Errorf("write to the recorded primary after the switchover ended: %v", err)
			}
		})
	}
}

// crashLoopStandby makes the standby of the add-on whose primary listens on
// primaryPort crash-loop: it is killed, and its port is held so that every
// restart in place fails. The port is held until the test ends.
func crashLoopStandby(t *testing.T, b *Broker, primaryPort int) {
	t.Helper()
	var standby liveNode
	for _, n := range liveNodes(t, b.DataDir) {
		if n.Port != primaryPort {
			standby = n
		}
	}
	if standby.Port == 0 {
		t.Fatal("no standby running")
	}
	WaitFor(t, 20*time.Second, "the standby's port taken from it", func() error {
		if pid, ok := readPID(filepath.Join(standby.Dir, "node.pid")); ok && processAlive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 400 && processAlive(pid); i++ {
				time.Sleep(5 * time.Millisecond) // the kernel frees the port once the process is gone
			}
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", standby.Port))
		if err != nil {
			return err // restarted in place first: kill it again
		}
		t.Cleanup(func() { ln.Close() })
		return nil
	})
}

// lastOperation returns the id of the add-ons' latest operation of kind,
// from the store: a request cut short by a crash point may not have
// answered with it.
func lastOperation(t *testing.T, b *Broker, kind string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.DataDir, "larder.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id string
	if err := db.QueryRow(`SELECT id FROM operations WHERE kind = ? ORDER BY created_at DESC LIMIT 1`, kind).Scan(&id); err != nil {
		t.Fatalf("no %s operation: %v", kind, err)
	}
	return id
}

// operationStates counts the add-ons' operations of kind by state, from the
// store (read-only, beside the running broker).
func operationStates(t *testing.T, b *Broker, kind string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(b.DataDir, "larder.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT state FROM operations WHERE kind = ?`, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out[s]++
	}
	return out
}

// TestStandbyRebuildResumes: the broker dies at each step of a standby
// rebuild (the standby crash-loops); the restarted broker carries the
// rebuild on, and the pair ends in sync with every key.
func TestStandbyRebuildResumes(t *testing.T) {
	for _, point := range []string{
		"standby_rebuild.old_dropped",
		"standby_rebuild.standby_claimed",
		"standby_rebuild.standby_started",
		"standby_rebuild.standby_synced",
	} {
		t.Run(point, func(t *testing.T) {
			b := NewBroker(t, "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_STANDBY_GRACE=1s", "LARDER_CRASH_AT="+point)
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
			waitInSync(t, b, "web", nil)
			writeKeys(t, configVars(t, b, "web")["REDIS_URL"], 100)
			crashLoopStandby(t, b, primaryPort(t, b, "web"))
			b.restartAfterCrash()
			WaitFor(t, 30*time.Second, "the rebuild to end", func() error {
				if k := eventKinds(t, b, "web"); k["standby.rebuilt"] != 1 || k["standby.rebuild_failed"] != 0 {
					return fmt.Errorf("events %v", k)
				}
				if ops := operationStates(t, b, "standby_rebuild"); ops[api.OpSucceeded] != 1 || len(ops) != 1 {
					return fmt.Errorf("rebuild operations %v", ops)
				}
				return nil
			})
			waitOnPlan(t, b, "web", "premium-0")
			keysKept(t, configVars(t, b, "web")["REDIS_URL"], 100)
		})
	}
}
