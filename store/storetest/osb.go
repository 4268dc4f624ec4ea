package storetest

import (
	"context"
	"testing"
	"time"

	"larder/fault"
	"larder/store"
)

func seedOSB(t *testing.T, s store.Store) (store.Addon, store.OSBInstance) {
	t.Helper()
	ctx := context.Background()
	app, err := s.CreateApp(ctx, "osb-owner")
	if err != nil {
		t.Fatal(err)
	}
	a := seedAddon(t, s, app, "redis-osb-1")
	in := store.OSBInstance{InstanceID: "i-1", AddonID: a.ID, ServiceID: "svc", PlanID: "plan", Parameters: `{}`, Context: `{}`,
		OperationID: "op-1", OperationKind: "provision"}
	if err := s.CreateOSBInstance(ctx, &in); err != nil {
		t.Fatal(err)
	}
	return a, in
}

func testOSBInstanceCreateTwiceIsConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, in := seedOSB(t, s)
	if got, want := fault.KindOf(s.CreateOSBInstance(ctx, &in)), fault.Conflict; got != want {
		t.Fatalf("second create: kind %v, want %v", got, want)
	}
	got, err := s.OSBInstanceByID(ctx, "i-1")
	if err != nil || got.State != store.OSBActive || got.DeletedAt != nil || got.OperationKind != "provision" {
		t.Fatalf("OSBInstanceByID = %+v, %v; want an active row", got, err)
	}
	if _, err := s.OSBInstanceByID(ctx, "nope"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("missing instance: %v, want NotFound", err)
	}
}

func testOSBBindingsUsersAndDeletion(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, _ := seedOSB(t, s)
	for _, id := range []string{"b-1", "b-2"} {
		bd := store.OSBBinding{BindingID: id, InstanceID: "i-1", AddonID: a.ID, ServiceID: "svc", PlanID: "plan",
			Username: "osb-" + id, Password: "pw-" + id, Parameters: `{}`}
		if err := s.CreateOSBBinding(ctx, &bd); err != nil {
			t.Fatal(err)
		}
	}
	dup := store.OSBBinding{BindingID: "b-3", InstanceID: "i-1", AddonID: a.ID, Username: "osb-b-1", Password: "x"}
	if got, want := fault.KindOf(s.CreateOSBBinding(ctx, &dup)), fault.Conflict; got != want {
		t.Fatalf("second live binding with user osb-b-1: kind %v, want %v", got, want)
	}
	b1, err := s.OSBBindingByID(ctx, "b-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkOSBBindingDeleted(ctx, "b-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkOSBBindingDeleted(ctx, "b-1", time.Now()); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("deleting a deleted binding: %v, want NotFound", err)
	}
	live, err := s.ActiveOSBBindingsOfAddon(ctx, a.ID)
	if err != nil || len(live) != 1 || live[0].BindingID != "b-2" {
		t.Fatalf("live bindings = %+v, %v; want only b-2", live, err)
	}
	gone, _ := s.OSBBindingByID(ctx, "b-1")
	if gone.State != store.OSBDeleted || gone.Password != "" || gone.DeletedAt == nil {
		t.Fatalf("deleted binding = %+v; want state deleted, no password, deleted_at set", gone)
	}
	// The user name of a deleted binding is free again.
	reuse := store.OSBBinding{BindingID: "b-4", InstanceID: "i-1", AddonID: a.ID, Username: "osb-b-1", Password: "x"}
	if err := s.CreateOSBBinding(ctx, &reuse); err != nil {
		t.Fatalf("new binding with a deleted binding's user: %v", err)
	}
	if err := s.DeleteOSBBinding(ctx, "b-4"); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreOSBBinding(ctx, b1); err != nil {
		t.Fatal(err)
	}
	back, _ := s.OSBBindingByID(ctx, "b-1")
	if back.State != store.OSBActive || back.Password != "pw-b-1" || back.DeletedAt != nil {
		t.Fatalf("restored binding = %+v; want it live with its password", back)
	}
}

func testOSBDeletedThenForgotten(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, _ := seedOSB(t, s)
	bd := store.OSBBinding{BindingID: "b-1", InstanceID: "i-1", AddonID: a.ID, Username: "osb-1", Password: "secret", Parameters: `{}`}
	if err := s.CreateOSBBinding(ctx, &bd); err != nil {
		t.Fatal(err)
	}
	deleted := time.Date(2030, 1, 2, 3, 4, 5, 500, time.FixedZone("CET", 3600))
	if err := s.MarkOSBInstanceDeleted(ctx, "i-1", deleted); err != nil {
		t.Fatal(err)
	}
	b, _ := s.OSBBindingByID(ctx, "b-1")
	if b.State != store.OSBDeleted || b.Password != "" {
		t.Fatalf("binding of a deleted instance = %+v; want deleted without password", b)
	}
	for _, tc := range []struct {
		cutoff time.Time
		want   string
	}{
		{deleted.Add(-time.Nanosecond), store.OSBDeleted}, // not yet past the retention
		{deleted, store.OSBDeleted},
		{deleted.Add(time.Millisecond), store.OSBForgotten},
	} {
		if err := s.ForgetOSB(ctx, tc.cutoff); err != nil {
			t.Fatal(err)
		}
		in, err := s.OSBInstanceByID(ctx, "i-1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.OSBBindingByID(ctx, "b-1")
		if in.State != tc.want || b.State != tc.want {
			t.Fatalf("after ForgetOSB(%v): instance %s, binding %s; want %s", tc.cutoff, in.State, b.State, tc.want)
		}
	}
	// A forgotten id can be used again: the old rows go.
	if err := s.DeleteOSBInstance(ctx, "i-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OSBBindingByID(ctx, "b-1"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("binding of a removed instance: %v, want NotFound", err)
	}
}
