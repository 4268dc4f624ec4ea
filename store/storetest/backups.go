package storetest

import (
	"context"
	"testing"
	"time"

	"larder/fault"
	"larder/store"
)

// Backups are numbered in order, never twice (a deleted number is not given
// again), and outlive their add-on.
func testBackupsNumberedAndKept(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	var ids []string
	for i, scheduled := range []bool{false, true, false} {
		b := store.Backup{AddonID: a.ID, AddonName: a.Name, AppID: app.ID, Scheduled: scheduled, Status: store.BackupRunning}
		if err := s.CreateBackup(ctx, &b); err != nil {
			t.Fatal(err)
		}
		if b.Num != int64(i+1) || b.StartedAt.IsZero() {
			t.Errorf("backup %d: num %d, started %v", i, b.Num, b.StartedAt)
		}
		ids = append(ids, b.ID)
	}
	if got, want := ids, []string{"b001", "a002", "b003"}; !equalStrings(got, want) {
		t.Fatalf("ids = %v, want %v", got, want)
	}
	if err := s.DeleteBackup(ctx, "b003"); err != nil {
		t.Fatal(err)
	}
	if got := fault.KindOf(s.DeleteBackup(ctx, "b003")); got != fault.NotFound {
		t.Errorf("second delete: kind %v, want NotFound", got)
	}
	b := store.Backup{AddonID: a.ID, AddonName: a.Name, AppID: app.ID, Status: store.BackupRunning}
	if err := s.CreateBackup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if b.ID != "b004" {
		t.Errorf("after deleting b003 the next backup is %s, want b004", b.ID)
	}

	done := time.Now().UTC().Truncate(time.Millisecond)
	b.Status, b.Verified, b.FinishedAt, b.Size, b.DurationMS = store.BackupCompleted, store.VerifyPassed, &done, 1234, 56
	b.SourceNode, b.SourceRole, b.Keys, b.Manifest, b.TargetKey, b.OperationID = "n1", "standby", 9, `{"format":1}`, "k.tar.gz", "op"
	if err := s.UpdateBackup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	got, err := s.BackupByID(ctx, "b004")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.BackupCompleted || got.Verified != store.VerifyPassed || got.FinishedAt == nil || !got.FinishedAt.Equal(done) ||
		got.Size != 1234 || got.DurationMS != 56 || got.SourceRole != "standby" || got.Keys != 9 || got.Manifest != `{"format":1}` ||
		got.TargetKey != "k.tar.gz" || got.OperationID != "op" || got.AppID != app.ID {
		t.Errorf("BackupByID = %+v", got)
	}
	running, err := s.RunningBackups(ctx)
	if err != nil || len(running) != 2 || running[0].ID != "b001" || running[1].ID != "a002" {
		t.Errorf("RunningBackups = %v, %v; want b001, a002", backupIDs(running), err)
	}
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	of, err := s.BackupsOfAddon(ctx, a.ID)
	if err != nil || len(of) != 3 {
		t.Errorf("backups of a deleted add-on = %v, %v; want the 3 kept", backupIDs(of), err)
	}
	ofApp, err := s.BackupsOfApp(ctx, app.ID)
	if err != nil || !equalStrings(backupIDs(ofApp), []string{"b001", "a002", "b004"}) {
		t.Errorf("BackupsOfApp = %v, %v", backupIDs(ofApp), err)
	}
	if _, err := s.BackupByID(ctx, "b999"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("unknown backup: %v, want NotFound", err)
	}
	if got := fault.KindOf(s.UpdateBackup(ctx, &store.Backup{ID: "b999"})); got != fault.NotFound {
		t.Errorf("update of an unknown backup: kind %v, want NotFound", got)
	}
}

// A schedule is set, replaced, run and removed, and goes with its add-on.
func testBackupSchedules(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if _, err := s.BackupScheduleOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("schedule before any: %v, want NotFound", err)
	}
	if err := s.SetBackupSchedule(ctx, &store.BackupSchedule{AddonID: a.ID, At: "02:00 UTC", Retain: 7}); err != nil {
		t.Fatal(err)
	}
	set := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.SetBackupSchedule(ctx, &store.BackupSchedule{AddonID: a.ID, At: "03:30 Europe/Paris", Retain: 3, LastRun: set}); err != nil {
		t.Fatal(err)
	}
	got, err := s.BackupScheduleOf(ctx, a.ID)
	if err != nil || got.At != "03:30 Europe/Paris" || got.Retain != 3 || !got.LastRun.Equal(set) {
		t.Fatalf("replaced schedule = %+v, %v", got, err)
	}
	ran := set.Add(24 * time.Hour)
	if err := s.SetBackupScheduleRun(ctx, a.ID, ran); err != nil {
		t.Fatal(err)
	}
	all, err := s.BackupSchedules(ctx)
	if err != nil || len(all) != 1 || !all[0].LastRun.Equal(ran) {
		t.Fatalf("BackupSchedules = %+v, %v", all, err)
	}
	if got := fault.KindOf(s.SetBackupSchedule(ctx, &store.BackupSchedule{AddonID: "nope", At: "02:00 UTC", Retain: 1})); got != fault.NotFound {
		t.Errorf("schedule of an unknown add-on: kind %v, want NotFound", got)
	}
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupScheduleOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Errorf("schedule after the add-on was deleted: %v, want NotFound", err)
	}
	if got := fault.KindOf(s.DeleteBackupSchedule(ctx, a.ID)); got != fault.NotFound {
		t.Errorf("delete of a missing schedule: kind %v, want NotFound", got)
	}
}

// The change feed shows a backup as it starts, finishes and goes.
func testChangesShowBackups(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if err := s.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: app.ID, Name: "REDIS"}); err != nil {
		t.Fatal(err)
	}
	head, err := s.ChangeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := store.Backup{AddonID: a.ID, AddonName: a.Name, AppID: app.ID, Status: store.BackupRunning}
	if err := s.CreateBackup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	b.Status = store.BackupCompleted
	if err := s.UpdateBackup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	b.Size = 10 // no status change: not a change an app needs to see
	if err := s.UpdateBackup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBackup(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	changes, _, _, err := s.AppChanges(ctx, app.ID, head, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range changes {
		if c.Kind == "backup" && c.Subject == b.ID && c.AddonID == a.ID {
			n++
		}
	}
	if n != 3 {
		t.Errorf("backup changes = %d (%+v), want 3 (created, completed, deleted)", n, changes)
	}
}

func backupIDs(bs []store.Backup) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A new add-on's restore source is recorded once, finished, and goes with
// the add-on.
func testRestoreSource(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if _, _, err := s.RestoreSourceOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("restore source before any: %v, want NotFound", err)
	}
	if err := s.SetRestoreSource(ctx, a.ID, "b001"); err != nil {
		t.Fatal(err)
	}
	if got := fault.KindOf(s.SetRestoreSource(ctx, a.ID, "b002")); got != fault.Conflict {
		t.Errorf("second restore source: kind %v, want Conflict", got)
	}
	if id, done, err := s.RestoreSourceOf(ctx, a.ID); id != "b001" || done || err != nil {
		t.Errorf("RestoreSourceOf = %q, %v, %v; want b001, not done", id, done, err)
	}
	if err := s.FinishRestoreSource(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if id, done, err := s.RestoreSourceOf(ctx, a.ID); id != "b001" || !done || err != nil {
		t.Errorf("RestoreSourceOf after finishing = %q, %v, %v; want b001, done", id, done, err)
	}
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RestoreSourceOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Errorf("restore source after the add-on was deleted: %v, want NotFound", err)
	}
}
