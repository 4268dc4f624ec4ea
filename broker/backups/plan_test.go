package backups_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"larder/api"
	"larder/backup/target"
	"larder/broker"
	"larder/broker/backups"
	"larder/broker/brokertest"
	"larder/fault"
	"larder/internal/testkit"
)

// A plan change moves the daily schedule with the plan: an upgrade from
// mini to a paid plan adds the default (02:00 UTC, 7 kept), a change
// between paid plans keeps the add-on's own, a downgrade to mini (on-demand
// backups only) removes it and says so in an event.
func TestPlanChangeMovesSchedule(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tgt, err := target.NewLocal(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.New(t, testkit.BrokerBackups, func(c *broker.Config) {
		c.Backups = backups.Config{Target: tgt, StageDir: filepath.Join(dir, "stage")}
	})
	st := b.Store()
	if _, err := b.Apps.CreateApp(ctx, api.AppCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Addons.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:mini", Name: "redis-plans"})
	if err != nil {
		t.Fatal(err)
	}
	waitOp(t, st, res.Operation.ID)
	a, err := st.AddonByName(ctx, "redis-plans")
	if err != nil {
		t.Fatal(err)
	}
	schedule := func() string {
		t.Helper()
		sc, err := st.BackupScheduleOf(ctx, a.ID)
		if fault.KindOf(err) == fault.NotFound {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s, %d kept", sc.At, sc.Retain)
	}
	change := func(plan string) {
		t.Helper()
		a, err := st.AddonByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		op, err := b.Addons.StartPlanChange(ctx, a, plan)
		if err != nil {
			t.Fatal(err)
		}
		waitOp(t, st, op.ID)
	}
	if got := schedule(); got != "none" {
		t.Fatalf("a new mini add-on's schedule = %s, want none", got)
	}
	def := fmt.Sprintf("%s, %d kept", backups.DefaultAt, backups.DefaultRetain)
	for _, step := range []struct {
		plan, want string
		custom     bool // set a schedule of the add-on's own after the change
	}{
		{"premium-0", def, true},
		{"premium-1", "03:30 UTC, 3 kept", false},
		{"mini", "none", false},
		{"premium-0", def, false},
	} {
		change(step.plan)
		if got := schedule(); got != step.want {
			t.Errorf("after the change to %s the schedule is %s, want %s", step.plan, got, step.want)
		}
		if step.custom {
			if _, err := b.Backups.Schedule(ctx, "web", "redis-plans", api.BackupScheduleSet{At: "03:30 UTC", Retain: 3}); err != nil {
				t.Fatal(err)
			}
		}
	}
	evs, err := st.EventsOfAddon(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[e.Kind]++
		if e.Kind == "backup.unscheduled" && !strings.Contains(e.Message, "on demand") {
			t.Errorf("the downgrade's event says %q; want it to say mini backs up on demand", e.Message)
		}
	}
	if kinds["backup.unscheduled"] != 1 || kinds["backup.scheduled"] != 2 {
		t.Errorf("events %v: want one backup.unscheduled (the downgrade), two backup.scheduled (the upgrades from mini)", kinds)
	}
}
