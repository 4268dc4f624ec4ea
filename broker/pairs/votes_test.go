package pairs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/internal/testkit"
	"larder/store"
	"larder/store/sqlite"
)

// fastHA is the HA timing of the votes' tests.
func fastHA(c *broker.Config) {
	c.FailoverWindow, c.MonitorFresh = 2*time.Second, time.Second
}

func observation(loc string, up bool) api.MonitorReport {
	return api.MonitorReport{Location: loc, Observer: loc + "-1", Nodes: []api.NodeObservation{{NodeID: "n1", Up: up}}}
}

// monitorsOf is b's view of the locations, without the ages (each broker
// reads its own clock when asked).
func monitorsOf(t *testing.T, b *broker.Broker) []api.MonitorLocation {
	t.Helper()
	locs, err := b.Pairs.ListMonitors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range locs {
		locs[i].AgeMS, locs[i].Voting = 0, false
	}
	return locs
}

// TestVotesSharedThroughTheStore (issue 16): two brokers on one store; each
// observer reports to one of them. Both fold every report, so both list
// every location as the same (larder monitors), and whichever coordinates
// counts the votes it never received itself.
func TestVotesSharedThroughTheStore(t *testing.T) {
	ctx := context.Background()
	a := brokertest.New(t, testkit.Pairs, fastHA)
	b := brokertest.Sharing(t, a, testkit.Pairs, fastHA)
	for i, to := range []*broker.Broker{a, b, b} {
		rep := observation(fmt.Sprintf("l%d", i+1), true)
		rep.Stalled = i == 2
		if err := to.Pairs.MonitorReport(ctx, rep); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		got, want := monitorsOf(t, a), monitorsOf(t, b)
		if len(got) != 3 || !reflect.DeepEqual(got, want) {
			return fmt.Errorf("broker a lists %+v,\nbroker b %+v; want the same 3 locations", got, want)
		}
		if got[0].Stalled || !got[2].Stalled {
			return fmt.Errorf("locations %+v: want l3 alone stalled", got)
		}
		return nil
	})
}

// TestVotesLoadedBeforeCoordinating (issue 16): a broker starting on a
// store where observers already reported knows the recent reports when
// Start returns — before it can take the coordinator lease — and skips
// those too old to matter.
func TestVotesLoadedBeforeCoordinating(t *testing.T) {
	ctx := context.Background()
	a := brokertest.New(t, testkit.Pairs, fastHA)
	now := time.Now().Truncate(time.Microsecond) // as the store keeps it
	for _, r := range []struct {
		loc string
		at  time.Time
	}{{"old", now.Add(-time.Hour)}, {"l1", now.Add(-500 * time.Millisecond)}, {"l2", now}} {
		body, _ := json.Marshal(observation(r.loc, false))
		rep := store.ObserverReport{BrokerID: "gone", ReceivedAt: r.at, Location: r.loc, Observer: r.loc + "-1", Body: body}
		if err := a.Store().AppendReport(ctx, &rep); err != nil {
			t.Fatal(err)
		}
	}
	b := brokertest.Sharing(t, a, testkit.Pairs, fastHA)
	got := monitorsOf(t, b)
	if len(got) != 2 || got[0].Location != "l1" || got[1].Location != "l2" || !got[0].LastReport.Equal(now.Add(-500*time.Millisecond)) ||
		!got[1].LastReport.Equal(now) {
		t.Fatalf("a broker just started lists %+v; want l1 (as received 500ms ago) and l2, not the hour-old report", got)
	}
}

// TestVotesFromAnotherProcessOnSQLite: a broker folds the reports another
// broker process records in the same SQLite file, whose commits it is not
// told of, within its look at the store.
func TestVotesFromAnotherProcessOnSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "larder.db")
	var stores [2]*sqlite.DB
	for i := range stores {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = st
	}
	t.Cleanup(func() { stores[1].Close() })
	a := brokertest.NewOn(t, stores[0], testkit.Pairs, fastHA)
	body, _ := json.Marshal(observation("l1", true))
	rep := store.ObserverReport{BrokerID: "other", ReceivedAt: time.Now(), Location: "l1", Observer: "l1-1", Body: body}
	if err := stores[1].AppendReport(ctx, &rep); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, func() error {
		if got := monitorsOf(t, a); len(got) != 1 || got[0].Location != "l1" {
			return fmt.Errorf("broker lists %+v; want l1", got)
		}
		return nil
	})
}
