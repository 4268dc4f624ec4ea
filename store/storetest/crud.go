package storetest

import (
	"context"
	"testing"

	"larder/fault"
	"larder/store"
)

func testAppsEnsureAndDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	var first store.App
	err := s.InTx(ctx, func(tx store.Tx) error {
		var err error
		if first, err = tx.EnsureApp(ctx, "owner"); err != nil {
			return err
		}
		// Ensuring it again in the same transaction is no error: nothing
		// fails inside it.
		again, err := tx.EnsureApp(ctx, "owner")
		if err == nil && again.ID != first.ID {
			t.Errorf("EnsureApp twice: ids %s and %s, want one app", first.ID, again.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.AppByName(ctx, "owner"); err != nil || got.ID != first.ID || got.CreatedAt.IsZero() {
		t.Fatalf("AppByName = %+v, %v; want %s", got, err, first.ID)
	}
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	apps, err := s.Apps(ctx)
	if err != nil || len(apps) != 2 || apps[0].Name != "owner" || apps[1].Name != "web" {
		t.Fatalf("Apps = %+v, %v; want owner, web", apps, err)
	}
	if err := s.DeleteApp(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if got := fault.KindOf(s.DeleteApp(ctx, first.ID)); got != fault.NotFound {
		t.Errorf("second DeleteApp: kind %v, want %v", got, fault.NotFound)
	}
}

func testAddonsCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	other, _ := s.CreateApp(ctx, "other")
	a := seedAddon(t, s, web, "redis-b")
	b := seedAddon(t, s, other, "redis-a")
	if a.ID == "" || a.Epoch != 1 || a.CreatedAt.IsZero() {
		t.Fatalf("created add-on = %+v; want an id, epoch 1 and a creation time", a)
	}
	if got := fault.KindOf(s.CreateAddon(ctx, &store.Addon{Name: "redis-b", Service: "x", Plan: "mini", AppID: web.ID,
		State: "provisioning", MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"})); got != fault.Conflict {
		t.Errorf("second add-on named redis-b: kind %v, want %v", got, fault.Conflict)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"SetAddonState", func() error { return s.SetAddonState(ctx, a.ID, "failed", "node down") }},
		{"SetAddonEngine", func() error { return s.SetAddonEngine(ctx, a.ID, "valkey", "8.0.1") }},
		{"UpdateAddonSettings", func() error { return s.UpdateAddonSettings(ctx, a.ID, "allkeys-lru", 30, "Ex") }},
		{"SetCustomerPasswords", func() error { return s.SetCustomerPasswords(ctx, a.ID, "new", "old") }},
		{"SetAddonPlan", func() error { return s.SetAddonPlan(ctx, a.ID, "premium-0") }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	got, err := s.AddonByName(ctx, "redis-b")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Addon{State: "failed", StateReason: "node down", Engine: "valkey", EngineVersion: "8.0.1", MaxMemoryPolicy: "allkeys-lru",
		Timeout: 30, NotifyKeyspaceEvents: "Ex", CustomerPassword: "new", CustomerPasswordAlt: "old", Plan: "premium-0", AppName: "web"}
	if got.State != want.State || got.StateReason != want.StateReason || got.Engine != want.Engine || got.EngineVersion != want.EngineVersion ||
		got.MaxMemoryPolicy != want.MaxMemoryPolicy || got.Timeout != want.Timeout || got.NotifyKeyspaceEvents != want.NotifyKeyspaceEvents ||
		got.CustomerPassword != want.CustomerPassword || got.CustomerPasswordAlt != want.CustomerPasswordAlt || got.Plan != want.Plan ||
		got.AppName != want.AppName || got.ID != a.ID {
		t.Errorf("add-on after updates = %+v; want %+v", got, want)
	}
	// The unknown add-on is NotFound for every update.
	for name, err := range map[string]error{
		"AddonByID":     func() error { _, err := s.AddonByID(ctx, "nope"); return err }(),
		"AddonByName":   func() error { _, err := s.AddonByName(ctx, "nope"); return err }(),
		"AddonEpoch":    func() error { _, err := s.AddonEpoch(ctx, "nope"); return err }(),
		"SetAddonState": s.SetAddonState(ctx, "nope", "failed", ""),
		"SetAddonPlan":  s.SetAddonPlan(ctx, "nope", "mini"),
		"DeleteAddon":   s.DeleteAddon(ctx, "nope"),
	} {
		if got := fault.KindOf(err); got != fault.NotFound {
			t.Errorf("%s of an unknown add-on: %v, want NotFound", name, err)
		}
	}
	all, err := s.Addons(ctx)
	if err != nil || len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
		t.Fatalf("Addons = %+v, %v; want redis-a then redis-b", all, err)
	}
	// An app sees the add-ons it owns and those attached to it.
	if err := s.CreateAttachment(ctx, &store.Attachment{AddonID: b.ID, AppID: web.ID, Name: "OTHER"}); err != nil {
		t.Fatal(err)
	}
	ofWeb, err := s.AddonsOfApp(ctx, web.ID)
	if err != nil || len(ofWeb) != 2 {
		t.Fatalf("AddonsOfApp(web) = %+v, %v; want both", ofWeb, err)
	}
	if n, err := s.CountOwnedAddons(ctx, web.ID); err != nil || n != 1 {
		t.Fatalf("CountOwnedAddons(web) = %d, %v; want 1", n, err)
	}
}

func testAttachmentsCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	api, _ := s.CreateApp(ctx, "api")
	a := seedAddon(t, s, web, "redis-a")
	for _, at := range []store.Attachment{{AddonID: a.ID, AppID: web.ID, Name: "REDIS"}, {AddonID: a.ID, AppID: api.ID, Name: "CACHE"}} {
		if err := s.CreateAttachment(ctx, &at); err != nil {
			t.Fatal(err)
		}
	}
	if got := fault.KindOf(s.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: web.ID, Name: "REDIS"})); got != fault.Conflict {
		t.Errorf("second REDIS on web: kind %v, want %v", got, fault.Conflict)
	}
	ofAddon, err := s.AttachmentsOfAddon(ctx, a.ID)
	if err != nil || len(ofAddon) != 2 || ofAddon[0].AppName != "api" || ofAddon[1].AppName != "web" || ofAddon[0].AddonName != "redis-a" {
		t.Fatalf("AttachmentsOfAddon = %+v, %v; want api's then web's, with names joined", ofAddon, err)
	}
	ofWeb, err := s.AttachmentsOfApp(ctx, web.ID)
	if err != nil || len(ofWeb) != 1 || ofWeb[0].Name != "REDIS" {
		t.Fatalf("AttachmentsOfApp(web) = %+v, %v; want REDIS", ofWeb, err)
	}
	if err := s.DeleteAttachment(ctx, ofWeb[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := fault.KindOf(s.DeleteAttachment(ctx, ofWeb[0].ID)); got != fault.NotFound {
		t.Errorf("second DeleteAttachment: kind %v, want %v", got, fault.NotFound)
	}
	if err := s.DeleteAttachmentsOfAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if all, err := s.Attachments(ctx); err != nil || len(all) != 0 {
		t.Fatalf("Attachments after deleting the add-on's = %+v, %v; want none", all, err)
	}
}

func testHostsCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, url := range []string{"http://10.0.0.1:7000", "http://10.0.0.2:7000"} {
		if err := s.UpsertHost(ctx, &store.Host{Name: "agent-1", URL: url, Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpsertHost(ctx, &store.Host{Name: "agent-0", URL: "http://10.0.0.3:7000", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHostDraining(ctx, "agent-1", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHostCursor(ctx, "agent-1", "boot-1", 42); err != nil {
		t.Fatal(err)
	}
	h, err := s.HostByName(ctx, "agent-1")
	if err != nil || h.URL != "http://10.0.0.2:7000" || !h.Draining || h.EventBoot != "boot-1" || h.EventSeq != 42 {
		t.Fatalf("HostByName = %+v, %v; want the second URL, draining, cursor boot-1/42", h, err)
	}
	// Registering again keeps draining and the cursor.
	if err := s.UpsertHost(ctx, &store.Host{Name: "agent-1", URL: "http://10.0.0.2:7000", Token: "t2"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.HostByName(ctx, "agent-1"); !h.Draining || h.Token != "t2" || h.EventSeq != 42 {
		t.Errorf("host after a new registration = %+v; want it still draining, with the new token", h)
	}
	hosts, err := s.Hosts(ctx)
	if err != nil || len(hosts) != 2 || hosts[0].Name != "agent-0" {
		t.Fatalf("Hosts = %+v, %v; want agent-0, agent-1", hosts, err)
	}
	if _, err := s.HostByName(ctx, "nope"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("HostByName of an unknown host: %v, want NotFound", err)
	}
	if got := fault.KindOf(s.SetHostDraining(ctx, "nope", true)); got != fault.NotFound {
		t.Errorf("SetHostDraining of an unknown host: kind %v, want NotFound", got)
	}
}

func testHandOverAddonIsCompareAndSet(t *testing.T, s store.Store) {
	ctx := context.Background()
	spares, _ := s.CreateApp(ctx, "spares")
	web, _ := s.CreateApp(ctx, "web")
	other, _ := s.CreateApp(ctx, "other")
	spare := seedAddon(t, s, spares, "redis-spare")
	seedAddon(t, s, web, "redis-taken")

	if ok, err := s.HandOverAddon(ctx, spare.ID, spares.ID, web.ID, "redis-taken"); fault.KindOf(err) != fault.Conflict || ok {
		t.Fatalf("hand-over under a taken name = %v, %v; want a Conflict", ok, err)
	}
	if ok, err := s.HandOverAddon(ctx, spare.ID, web.ID, other.ID, "redis-mine"); err != nil || ok {
		t.Fatalf("hand-over from an app that does not own it = %v, %v; want false", ok, err)
	}
	if ok, err := s.HandOverAddon(ctx, spare.ID, spares.ID, web.ID, "redis-mine"); err != nil || !ok {
		t.Fatalf("hand-over = %v, %v; want true", ok, err)
	}
	got, err := s.AddonByID(ctx, spare.ID)
	if err != nil || got.AppID != web.ID || got.Name != "redis-mine" || got.CreatedAt.Before(spare.CreatedAt) {
		t.Fatalf("after the hand-over: %+v, %v; want redis-mine on web, created no earlier than the spare", got, err)
	}
	// The second of two requests for the same spare gets nothing.
	if ok, err := s.HandOverAddon(ctx, spare.ID, spares.ID, other.ID, "redis-theirs"); err != nil || ok {
		t.Fatalf("second hand-over = %v, %v; want false", ok, err)
	}
	if got, _ := s.AddonByID(ctx, spare.ID); got.AppID != web.ID || got.Name != "redis-mine" {
		t.Fatalf("a losing hand-over changed the add-on: %+v", got)
	}
}
