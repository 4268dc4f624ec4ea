package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHostEventsRecordedOnce (issue 16): two brokers share a store and
// both reach one agent. What the agent's supervisor reports (a node that
// crashed and was restarted in place) is recorded once, by the coordinator
// alone, not once by every broker that watches the agent.
func TestHostEventsRecordedOnce(t *testing.T) {
	b1 := NewBroker(t, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms")
	ag := b1.StartAgent("h1")
	b1.MustLarder("apps:create", "web")
	b1.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	b2 := sharingBroker(t, b1, "LARDER_RECONCILE_INTERVAL=200ms")
	WaitFor(t, 10*time.Second, "the second broker reaches the agent", func() error { return b2.hostUp("h1") })

	pidFile := func() string {
		files, _ := filepath.Glob(filepath.Join(ag.Dir, "nodes", "*", "node.pid"))
		if len(files) != 1 {
			t.Fatalf("node pid files on h1: %v, want one", files)
		}
		return files[0]
	}
	// Two crashes, one after the other: by the second restart's record,
	// both brokers have long polled past the first.
	restarts := 0
	for i := range 2 {
		pid, ok := readPID(pidFile())
		if !ok {
			t.Fatal("no node pid on h1")
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		want := "as pid "
		WaitFor(t, 20*time.Second, fmt.Sprintf("restart %d recorded", i+1), func() error {
			n := 0
			for _, l := range strings.Split(eventsOf(t, b1, "web", "REDIS"), "\n") {
				if strings.HasPrefix(l, "node.restarted:") && strings.Contains(l, want) {
					n++
				}
			}
			if n <= restarts {
				return fmt.Errorf("%d restarts recorded", n)
			}
			return nil
		})
		restarts++
	}
	// Each crash is one exit and one restart (as a new pid), recorded once.
	kinds := map[string]int{}
	pids := map[string]int{}
	for _, l := range strings.Split(eventsOf(t, b1, "web", "REDIS"), "\n") {
		kind, _, _ := strings.Cut(l, ":")
		kinds[kind]++
		if kind == "node.restarted" {
			pids[l]++
		}
	}
	if kinds["node.exited"] != 2 || kinds["node.restarted"] != 2 || len(pids) != 2 {
		t.Errorf("two crashes recorded as %d exits and %d restarts (%d distinct); want 2, 2, 2:\n%s",
			kinds["node.exited"], kinds["node.restarted"], len(pids), eventsOf(t, b1, "web", "REDIS"))
	}
}

// TestAgentRegisteredWithAnotherBroker (issue 16): an agent registers with
// one broker of two sharing a store; the other, which coordinates, connects
// to it as well: it lists the host as up and places a new add-on's node
// there.
func TestAgentRegisteredWithAnotherBroker(t *testing.T) {
	b1 := NewBroker(t, "LARDER_NO_LOCAL_NODES=1", "LARDER_RECONCILE_INTERVAL=200ms")
	b2 := sharingBroker(t, b1, "LARDER_RECONCILE_INTERVAL=200ms")
	coordinates(t, b2, b1)
	// The agent reports only to broker 2; Start waits until broker 1, the
	// coordinator, lists it up.
	b1.StartAgentVia(b2.URL, "h1")
	b1.MustLarder("apps:create", "web")
	b1.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	if evs := eventsOf(t, b1, "web", "REDIS"); !strings.Contains(evs, "provision") {
		t.Errorf("events of the new add-on:\n%s", evs)
	}
}
