package storetest

import (
	"context"
	"testing"

	"larder/fault"
	"larder/store"
)

func testAppsDuplicateIsConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateApp(ctx, "web")
	if got, want := fault.KindOf(err), fault.Conflict; got != want {
		t.Fatalf("duplicate app: kind %v (%v), want %v", got, err, want)
	}
	_, err = s.AppByName(ctx, "nope")
	if got, want := fault.KindOf(err), fault.NotFound; got != want {
		t.Fatalf("missing app: kind %v, want %v", got, want)
	}
}

func seedAddon(t testing.TB, s store.Store, app store.App, name string) store.Addon {
	t.Helper()
	a := store.Addon{Name: name, Service: "larder-redis", Plan: "mini", AppID: app.ID, State: "provisioning",
		MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
	if err := s.CreateAddon(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func testDeleteAddonCascadesAttachmentsAndNodes(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if err := s.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: app.ID, Name: "REDIS"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateNode(ctx, &store.Node{AddonID: a.ID, Name: "n1", Role: store.RolePrimary, Host: "local", Port: 21000, State: store.NodeRunning}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	atts, _ := s.AttachmentsOfApp(ctx, app.ID)
	ports, _ := s.UsedPorts(ctx, "local", "")
	if len(atts) != 0 || len(ports) != 0 {
		t.Fatalf("after delete: attachments %v, ports %v; want none", atts, ports)
	}
}

func testInTxRollsBackOnError(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	err := s.InTx(ctx, func(tx store.Tx) error {
		a := store.Addon{Name: "redis-x", Service: "larder-redis", Plan: "mini", AppID: app.ID, State: "provisioning",
			MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
		if err := tx.CreateAddon(ctx, &a); err != nil {
			return err
		}
		// The second attachment with the same name fails: the whole create must vanish.
		if err := tx.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: app.ID, Name: "REDIS"}); err != nil {
			return err
		}
		return tx.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: app.ID, Name: "REDIS"})
	})
	if got, want := fault.KindOf(err), fault.Conflict; got != want {
		t.Fatalf("kind %v (%v), want %v", got, err, want)
	}
	addons, _ := s.Addons(ctx)
	if len(addons) != 0 {
		t.Fatalf("add-ons after rollback = %d, want 0", len(addons))
	}
}

func testUserVarsSetUnset(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	for _, kv := range [][2]string{{"A", "1"}, {"B", "2"}, {"A", "3"}} {
		if err := s.SetUserVar(ctx, app.ID, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UnsetUserVar(ctx, app.ID, "B"); err != nil {
		t.Fatal(err)
	}
	vars, err := s.UserVars(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(vars), 1; got != want || vars["A"] != "3" {
		t.Fatalf("vars = %v, want map[A:3]", vars)
	}
}
