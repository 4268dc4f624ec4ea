package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/engine"
	"larder/fault"
	"larder/internal/netns"
	"larder/internal/testkit"
	"larder/provisioner/nodetest"
)

// buildLarder builds larder (and larder-server, which runs its agent) into
// a temporary directory.
func buildLarder(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipping: no go tool on PATH to build the larder binary")
	}
	bin, err := testkit.BuildLarder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestAgentInNamespace runs `larder agent` inside a network namespace and
// drives it from the root namespace: a node placed there serves clients at
// the namespace's address; cutting the namespace's link makes the host
// Unavailable, healing it brings host and node back.
func TestAgentInNamespace(t *testing.T) {
	netns.RequireRoot(t)
	env := newEnv(t)
	ns := netns.New(t, "agent", "198.18.1.2", "198.18.1.1")
	bin := buildLarder(t)

	listen := net.JoinHostPort(ns.IP, strconv.Itoa(freePort(t)))
	token := randomHex(t)
	env.Secrets = append(env.Secrets, token)
	logs := &nodetest.LockedBuffer{}
	agent := ns.Exec(bin, "agent", "--host", "h1", "--listen", listen, "--addr", ns.IP,
		"--data-dir", env.Root, "--token", token, "--check-interval", "50ms", "--log-level", "debug")
	agent.Env = []string{"PATH=" + os.Getenv("PATH"), engine.EnvVar + "=" + env.Engine.Path, "HOME=" + env.Root}
	agent.Stdout, agent.Stderr = logs, logs
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { agent.Wait(); close(exited) }()
	t.Cleanup(func() {
		agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			agent.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", logs)
		}
	})

	r, _ := env.remote("http://"+listen, token)
	ctx := context.Background()
	waitFor(t, 20*time.Second, func() error {
		select {
		case <-exited:
			t.Fatalf("agent exited:\n%s", logs)
		default:
		}
		_, err := r.Status(ctx)
		return err
	})
	if r.Addr() != ns.IP {
		t.Fatalf("Addr() = %q, want the namespace's %s", r.Addr(), ns.IP)
	}

	spec := env.spec("ns-node", true)
	n, err := r.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start() in the namespace: %v", err)
	}
	if n.Addr != ns.IP {
		t.Errorf("node address = %q, want %s", n.Addr, ns.IP)
	}
	cust := redis.NewClient(&redis.Options{
		Addr: net.JoinHostPort(ns.IP, strconv.Itoa(spec.Port)), Username: spec.Customer.Name, Password: spec.Customer.Password,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		MaxRetries: -1, DisableIdentity: true,
	})
	t.Cleanup(func() { cust.Close() })
	if err := cust.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on the node in the namespace: %v", err)
	}

	ns.Cut()
	waitFor(t, 10*time.Second, func() error {
		_, err := r.Status(ctx)
		if fault.KindOf(err) != fault.Unavailable {
			return fmt.Errorf("Status() with the link cut = %v, want Unavailable", err)
		}
		return nil
	})
	if err := cust.Get(ctx, "k").Err(); err == nil {
		t.Error("GET through a cut link succeeded")
	}
	if err := r.Reachable(); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("Reachable() with the link cut = %v, want Unavailable", err)
	}

	ns.Heal()
	waitFor(t, 10*time.Second, func() error {
		_, err := r.Status(ctx)
		return err
	})
	waitFor(t, 5*time.Second, func() error {
		got, err := cust.Get(ctx, "k").Result()
		if err == nil && got != "v" {
			return fmt.Errorf("GET k = %q, want v", got)
		}
		return err
	})
	if info, err := r.Info(ctx, spec); err != nil || info.UptimeSeconds < 0 {
		t.Errorf("Info() after heal = %+v, %v", info, err)
	}
	if st, err := r.Status(ctx); err != nil || len(st.Nodes) != 1 || st.Nodes[0].PID != n.PID {
		t.Errorf("Status() after heal = %+v, %v; want the node still running as pid %d", st, err, n.PID)
	}
}
