package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"larder/api"
	"larder/internal/pgtest"
)

// brokerID is the id b registered with (its data dir's broker-id).
func brokerID(t testing.TB, b *Broker) string {
	t.Helper()
	id, err := os.ReadFile(filepath.Join(b.DataDir, "broker-id"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(id))
}

// brokersOf is `larder brokers --json` as via answers it.
func brokersOf(t testing.TB, via *Broker) []api.Broker {
	t.Helper()
	var out []api.Broker
	r := via.MustLarder("brokers", "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("brokers --json: %v\n%s", err, r.Stdout)
	}
	return out
}

// brokerInfo is which's entry in via's list of brokers.
func brokerInfo(t testing.TB, via, which *Broker) api.Broker {
	t.Helper()
	id := brokerID(t, which)
	for _, b := range brokersOf(t, via) {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("broker %s not in the list of brokers", id)
	return api.Broker{}
}

// coordinates waits until via lists want as the coordinator, and only it.
func coordinates(t testing.TB, via, want *Broker) api.Broker {
	t.Helper()
	id := brokerID(t, want)
	var got api.Broker
	WaitFor(t, 20*time.Second, "broker "+id+" to coordinate", func() error {
		var coords []string
		for _, b := range brokersOf(t, via) {
			if b.Coordinator {
				coords = append(coords, b.ID)
				got = b
			}
		}
		if len(coords) != 1 || coords[0] != id {
			return fmt.Errorf("coordinators %v", coords)
		}
		return nil
	})
	return got
}

// TestPausedCoordinatorIsFenced (issue 16): two brokers on PostgreSQL with
// an HA pair. The coordinator is stopped (SIGSTOP) past its lease; the other
// takes the lease over in a new tenure. Continued (SIGCONT), the old one
// gives its rounds up at once — it neither coordinates again nor records a
// role change — and at no moment do both nodes answer as primary.
func TestPausedCoordinatorIsFenced(t *testing.T) {
	const coordLease = "LARDER_COORDINATOR_LEASE=1s"
	store := "LARDER_STORE_URL=" + pgtest.URL(t)
	b1, ha, targets := pairOnAgents(t, "LARDER_STANDBY_GRACE=1s", coordLease, store)
	b2 := sharingBroker(t, b1, "LARDER_RECONCILE_INTERVAL=200ms", "LARDER_STANDBY_GRACE=1s", coordLease)
	first := coordinates(t, b2, b1)
	stop := watchRoles(targets)

	if err := b1.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			b1.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	second := coordinates(t, b2, b2)
	if second.Token <= first.Token {
		t.Fatalf("the new tenure's token %d is not above the paused coordinator's %d", second.Token, first.Token)
	}
	mark := len(b1.logs.String())
	b1.cmd.Process.Signal(syscall.SIGCONT)
	stopped = false
	WaitFor(t, 10*time.Second, "the continued broker to give its rounds up", func() error {
		if !strings.Contains(b1.logs.String()[mark:], "no longer coordinating") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	// Several reconcile rounds of both brokers pass: b2 alone coordinates.
	seen := brokerInfo(t, b2, b1).LastSeen
	WaitFor(t, 20*time.Second, "the continued broker to run two leases", func() error {
		if d := brokerInfo(t, b2, b1).LastSeen.Sub(seen); d < 2*time.Second {
			return fmt.Errorf("seen %s later", d)
		}
		return nil
	})
	if c := coordinates(t, b1, b2); c.Token != second.Token {
		t.Errorf("tenure %d after the old coordinator returned; want b2's %d kept", c.Token, second.Token)
	}
	twoPrimaries := stop()
	if twoPrimaries > 0 {
		t.Errorf("both nodes answered as primary at once (%d samples)", twoPrimaries)
	}
	if k := eventKinds(t, b2, "web"); k["failover"] != 0 || k["switchover"] != 0 {
		t.Errorf("events %v: want no role change", k)
	}
	after := waitInSync(t, b2, "web", nil)
	if after.Epoch != ha.Epoch || after.PrimaryHost != ha.PrimaryHost {
		t.Errorf("pair %+v after the pause; want it as it was (%+v)", after, ha)
	}
	if strings.Contains(b1.logs.String()[mark:], "coordinating: this broker holds") {
		t.Errorf("the continued broker took the lease back:\n%s", b1.logs.String()[mark:])
	}
}

// BenchmarkCoordinatorTakeover: two brokers on PostgreSQL with a 1s
// coordinator lease; each op kills the coordinator (kill -9) and measures
// until the other begins its tenure (the lease's acquired_at: its first
// coordinating act), then starts the killed one again. Reported as
// takeover-ms (the lease plus up to a third of it, the retry rhythm).
func BenchmarkCoordinatorTakeover(b *testing.B) {
	store := "LARDER_STORE_URL=" + pgtest.URL(b)
	env := []string{"LARDER_COORDINATOR_LEASE=1s", store}
	brokers := [2]*Broker{NewBroker(b, env...)}
	brokers[1] = sharingBroker(b, brokers[0], env...)
	var total time.Duration
	cur := 0
	coordinates(b, brokers[1], brokers[0])
	b.ResetTimer()
	for range b.N {
		other := 1 - cur
		killed := time.Now()
		killBroker(brokers[cur])
		got := coordinates(b, brokers[other], brokers[other])
		total += got.CoordinatingSince.Sub(killed)
		brokers[cur].Start()
		cur = other
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "takeover-ms")
}
