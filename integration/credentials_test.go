package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nodeOnPort is the running node listening on port.
func nodeOnPort(t *testing.T, b *Broker, port int) liveNode {
	t.Helper()
	for _, n := range liveNodes(t, b.DataDir) {
		if n.Port == port {
			return n
		}
	}
	t.Fatalf("no node running on port %d", port)
	return liveNode{}
}

// TestCredentialRotationWholeOrNothing: a credential rotation fails at each
// of its steps — the broker dies there (kill -9 at a crash point), or the
// primary's host cannot apply it (the node is stopped) — and then the
// primary restarts from its files. The store and every node's ACL file
// agree on one password, the URL in the app's vars works, and the rotation
// ended rolled back or done, saying which.
func TestCredentialRotationWholeOrNothing(t *testing.T) {
	for _, tt := range []struct {
		name, point string
		stopPrimary bool // the primary's host fails the change
		rotated     bool
	}{
		{"crash with the new password written ahead", "credentials.pending", false, false},
		{"crash with both passwords on every node", "credentials.applied", false, false},
		{"crash after the commit", "credentials.committed", false, true},
		{"crash with the old password retired", "credentials.retired", false, true},
		{"the primary cannot take the change", "", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"LARDER_RECONCILE_INTERVAL=200ms"}
			if tt.point != "" {
				env = append(env, "LARDER_CRASH_AT="+tt.point)
			}
			b := NewBroker(t, env...)
			ctx := context.Background()
			b.MustLarder("apps:create", "web")
			b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
			waitInSync(t, b, "web", nil)
			writeKeys(t, configVars(t, b, "web")["REDIS_URL"], 100)
			url0 := configVars(t, b, "web")["REDIS_URL"]
			primary := nodeOnPort(t, b, primaryPort(t, b, "web"))
			pid, _ := readPID(filepath.Join(primary.Dir, "node.pid"))

			switch {
			case tt.stopPrimary:
				syscall.Kill(pid, syscall.SIGSTOP)
				_, err := b.Client().RotateCredentials(ctx, "web", "REDIS")
				syscall.Kill(pid, syscall.SIGCONT)
				if err == nil || !strings.Contains(err.Error(), "rolled back") {
					t.Errorf("rotation while the primary is stopped: %v; want it rolled back", err)
				}
			default:
				b.Client().RotateCredentials(ctx, "web", "REDIS") // the crash cuts the answer short
				b.restartAfterCrash()
			}
			operationEnded(t, b, "web", "credential_rotation", !tt.rotated, "credentials.rotate", "credentials.rolled_back")
			url := configVars(t, b, "web")["REDIS_URL"]
			if got := url != url0; got != tt.rotated {
				t.Errorf("URL changed = %v, want %v", got, tt.rotated)
			}
			pw := mustParse(t, url).Password
			WaitFor(t, 20*time.Second, "every node's ACL file to hold the URL's password alone", func() error {
				for _, n := range liveNodes(t, b.DataDir) {
					if got := aclPassword(t, n.Dir, "default"); !slices.Equal(got, []string{pw}) {
						return fmt.Errorf("node on port %d accepts %d passwords, the URL's among them: %v", n.Port, len(got), slices.Contains(got, pw))
					}
				}
				return nil
			})

			// The primary restarts from its files; the app's URL still works.
			if pid, ok := readPID(filepath.Join(primary.Dir, "node.pid")); ok {
				syscall.Kill(pid, syscall.SIGKILL)
				WaitFor(t, 20*time.Second, "the primary restarted in place", func() error {
					np, ok := readPID(filepath.Join(primary.Dir, "node.pid"))
					if !ok || np == pid || !processAlive(np) {
						return fmt.Errorf("pid %d", np)
					}
					return nil
				})
			}
			c := redisClient(t, url)
			WaitFor(t, 20*time.Second, "the app's URL to answer", func() error {
				return c.Ping(ctx).Err()
			})
			keysKept(t, configVars(t, b, "web")["REDIS_URL"], 100)
		})
	}
}

// TestCredentialRotationHostAway: a rotation committed before a broker
// crash is finished by the next broker while the standby's host is away;
// when the host returns, its node is brought to agree with the store, so
// every ACL file holds the app's password alone.
func TestCredentialRotationHostAway(t *testing.T) {
	b := NewBroker(t, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_STANDBY_GRACE=60s",
		"LARDER_CRASH_AT=credentials.committed")
	agents := map[string]*Agent{"h1": b.StartAgent("h1"), "h2": b.StartAgent("h2")}
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:premium-0", "-a", "web", "--wait")
	ha := waitInSync(t, b, "web", nil)
	url0 := configVars(t, b, "web")["REDIS_URL"]
	b.Client().RotateCredentials(ctx, "web", "REDIS") // the crash cuts the answer short
	select {
	case <-b.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the broker did not reach its crash point")
	}
	away := agents[ha.StandbyHost]
	away.Kill() // its node keeps running, with both passwords
	b.restartAfterCrash()
	operationEnded(t, b, "web", "credential_rotation", false, "credentials.rotate", "credentials.rolled_back")
	url := configVars(t, b, "web")["REDIS_URL"]
	if url == url0 {
		t.Fatal("REDIS_URL unchanged after a committed rotation")
	}
	pw := mustParse(t, url).Password
	away.Start()
	WaitFor(t, 20*time.Second, "every node's ACL file to hold the URL's password alone", func() error {
		n := 0
		for _, a := range agents {
			for _, node := range liveNodes(t, a.Dir) {
				n++
				if got := aclPassword(t, node.Dir, "default"); !slices.Equal(got, []string{pw}) {
					return fmt.Errorf("node on %s port %d accepts %d passwords, the URL's among them: %v", a.Name, node.Port, len(got), slices.Contains(got, pw))
				}
			}
		}
		if n != 2 {
			return fmt.Errorf("%d nodes running, want 2", n)
		}
		return nil
	})
	if err := redisClient(t, url).Ping(ctx).Err(); err != nil {
		t.Errorf("the app's URL: %v", err)
	}
}
