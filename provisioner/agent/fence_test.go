package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/provisioner/local"
)

// pairSpecs is a persistent primary and its standby, both under epoch 1.
func (e *testEnv) pairSpecs(name string) (primary, standby provisioner.NodeSpec) {
	e.TB.Helper()
	primary, standby = e.spec(name+"-p", true), e.spec(name+"-s", true)
	repl := engine.User{Name: engine.ReplUser, Password: randomHex(e.TB)}
	e.Secrets = append(e.Secrets, repl.Password)
	standby.Admin = primary.Admin
	primary.Repl, standby.Repl = repl, repl
	primary.Epoch, standby.Epoch = 1, 1
	standby.ReplicaOf = &engine.Endpoint{Addr: "127.0.0.1", Port: primary.Port}
	return primary, standby
}

// asPrimary and asReplica are spec under epoch, in that role.
func asPrimary(spec provisioner.NodeSpec, epoch int64) provisioner.NodeSpec {
	spec.ReplicaOf, spec.Epoch = nil, epoch
	return spec
}

func asReplica(spec provisioner.NodeSpec, of provisioner.NodeSpec, epoch int64) provisioner.NodeSpec {
	spec.ReplicaOf, spec.Epoch = &engine.Endpoint{Addr: "127.0.0.1", Port: of.Port}, epoch
	return spec
}

func roleOf(t *testing.T, spec provisioner.NodeSpec) string {
	t.Helper()
	r, err := engine.Replication(context.Background(), targetOf(spec))
	if err != nil {
		t.Fatalf("read the role of %s: %v", spec.Name, err)
	}
	return r.Role
}

// TestSetRoleRefusesAnOlderEpoch: a host applies a role change only under an
// epoch at least as new as the one it holds for the node, keeps that epoch in
// the node's directory (a restarted agent still refuses), and reports it.
// Locally and through the agent API.
func TestSetRoleRefusesAnOlderEpoch(t *testing.T) {
	t.Parallel()
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "agent"}[remote], func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			a := env.agent()
			var h provisioner.Host = a.host
			if remote {
				h, _ = env.remote(a.url(), a.token)
			}
			ctx := context.Background()
			p, s := env.pairSpecs("role")
			for _, spec := range []provisioner.NodeSpec{p, s} {
				if _, err := h.Start(ctx, spec); err != nil {
					t.Fatalf("Start(%s) error = %v", spec.Name, err)
				}
			}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := engine.WaitInSync(sctx, targetOf(s), engine.Endpoint{Addr: "127.0.0.1", Port: p.Port}); err != nil {
				t.Fatal(err)
			}

			// Epoch 2: the standby takes over, the old primary follows it.
			if err := h.SetRole(ctx, asPrimary(s, 2)); err != nil {
				t.Fatalf("SetRole(standby → primary, epoch 2) error = %v", err)
			}
			if err := h.SetRole(ctx, asReplica(p, s, 2)); err != nil {
				t.Fatalf("SetRole(primary → replica, epoch 2) error = %v", err)
			}
			if got, got2 := roleOf(t, s), roleOf(t, p); got != "master" || got2 != "slave" {
				t.Fatalf("roles after epoch 2 = %s, %s; want master, slave", got, got2)
			}

			// A coordinator still on epoch 1 is refused, and nothing changes.
			stale := []struct {
				what string
				err  error
			}{
				{"SetRole(epoch 1)", h.SetRole(ctx, asReplica(s, p, 1))},
				{"Reconfigure(epoch 1)", h.Reconfigure(ctx, asReplica(s, p, 1))},
			}
			for _, tt := range stale {
				wantKind(t, tt.what, tt.err, fault.Conflict)
			}
			if got := roleOf(t, s); got != "master" {
				t.Errorf("role of %s after stale commands = %s, want master", s.Name, got)
			}
			st, err := h.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ns := range st.Nodes {
				if ns.Epoch != 2 {
					t.Errorf("Status() reports %s under epoch %d, want 2", ns.Name, ns.Epoch)
				}
			}

			// The epoch lives in the node's directory: a restarted agent refuses too.
			a.down()
			a.restartHost()
			a.up()
			if !remote {
				h = a.host
			}
			waitFor(t, 5*time.Second, func() error {
				err := h.SetRole(ctx, asReplica(s, p, 1))
				if fault.KindOf(err) != fault.Conflict {
					return fmt.Errorf("SetRole(epoch 1) after an agent restart = %v, want Conflict", err)
				}
				return nil
			})
			if err := h.SetRole(ctx, asPrimary(s, 3)); err != nil {
				t.Errorf("SetRole(epoch 3) after an agent restart = %v", err)
			}

			// A role that could not be applied is not held: the broker tries again.
			// (The restarted agent does not supervise it yet: nothing restarts it.)
			pid := engine.ReadPidfile(filepath.Join(env.Root, p.Name, engine.PidFile))
			if pid <= 0 || syscall.Kill(pid, syscall.SIGKILL) != nil {
				t.Fatalf("cannot kill %s (pid %d)", p.Name, pid)
			}
			waitFor(t, 5*time.Second, func() error {
				if running(pid) {
					return fmt.Errorf("pid %d still runs", pid)
				}
				return nil
			})
			if err := h.SetRole(ctx, asReplica(p, s, 9)); err == nil {
				t.Fatalf("SetRole on a stopped node succeeded")
			}
			st, err = h.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ns := range st.Nodes {
				if ns.Name == p.Name && ns.Epoch != 2 {
					t.Errorf("%s holds epoch %d after a role change that failed, want 2", p.Name, ns.Epoch)
				}
			}
		})
	}
}

// TestLeasePauseIsRecordedAndLifted: a primary cut off from the broker and
// from its standby is paused by the lease, and the pause is state: the host
// reports who holds it and why, re-applies it when the node restarts while
// the lease is still out, keeps it when contact comes back (the broker
// decides), and lifts it when the broker confirms the node's role under an
// epoch at least its own.
func TestLeasePauseIsRecordedAndLifted(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(local.Options{})
	ctx := context.Background()
	spec := env.spec("leased", true)
	spec.Epoch = 1
	n, err := h.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	lease := local.NewLease(h, 300*time.Millisecond, env.Log)
	t.Cleanup(lease.Close)

	paused := func() (*provisioner.Pause, error) {
		st, err := h.Status(ctx)
		if err != nil {
			return nil, err
		}
		if len(st.Nodes) != 1 {
			return nil, fmt.Errorf("status %+v", st)
		}
		return st.Nodes[0].Pause, nil
	}
	wantPaused := func(when string) {
		t.Helper()
		waitFor(t, 5*time.Second, func() error {
			p, err := paused()
			if err != nil || p == nil || p.Owner != provisioner.PauseOwnerLease || p.Since.IsZero() {
				return fmt.Errorf("pause %+v, %v; want one held by the lease", p, err)
			}
			return nil
		})
		if err := setWithTimeout(spec, "k", 300*time.Millisecond); err == nil {
			t.Errorf("%s: a write went through on a fenced primary", when)
		}
	}
	wantPaused("lease expired")
	ev := env.Events.Wait(t, spec.ID, provisioner.EventPaused, 0, 5*time.Second)
	if ev.Message == "" {
		t.Errorf("paused event without a message")
	}

	// Restarted in place while the lease is still out: paused again.
	syscall.Kill(n.PID, syscall.SIGKILL)
	env.Events.Wait(t, spec.ID, provisioner.EventRestarted, 0, 10*time.Second)
	wantPaused("after a restart in place")

	// The broker is back (its status polls renew the lease): the pause stays
	// until it decides.
	polls := time.NewTicker(50 * time.Millisecond)
	defer polls.Stop()
	stop := make(chan struct{})
	defer close(stop)
	poll := TrackLease(lease, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	poll.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/status", nil))
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-polls.C:
				poll.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/status", nil))
			}
		}
	}()
	wantPaused("after contact, before the broker decides")

	// A decision under an older epoch lifts nothing.
	wantKind(t, "SetRole(epoch 0)", h.SetRole(ctx, asPrimary(spec, 0)), fault.Conflict)
	if p, _ := paused(); p == nil {
		t.Fatalf("a stale SetRole lifted the pause")
	}
	if err := h.SetRole(ctx, asPrimary(spec, 1)); err != nil {
		t.Fatalf("SetRole(primary, epoch 1) error = %v", err)
	}
	if p, err := paused(); err != nil || p != nil {
		t.Errorf("pause after the broker confirmed the primary = %+v, %v; want none", p, err)
	}
	if err := setWithTimeout(spec, "k", 2*time.Second); err != nil {
		t.Errorf("write after the pause was lifted: %v", err)
	}
	env.Events.Wait(t, spec.ID, provisioner.EventResumed, 0, 5*time.Second)
}

// setWithTimeout writes key as the customer on a fresh connection, giving up
// after timeout.
func setWithTimeout(spec provisioner.NodeSpec, key string, timeout time.Duration) error {
	cl := redis.NewClient(&redis.Options{
		Addr: targetOf(spec).Endpoint.String(), Username: spec.Customer.Name, Password: spec.Customer.Password,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		PoolSize: 1, MaxRetries: -1, DisableIdentity: true,
	})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return cl.Set(ctx, key, "v", 0).Err()
}
