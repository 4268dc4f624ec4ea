package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"larder/internal/testkit"
	"larder/store"
)

// ManyAddons is how many add-ons SeedMany records: the listing the
// benchmarks time (the store's here, the HTTP API's in broker/httpapi).
const ManyAddons = 10_000

// SeedMany records an app, "big", with ManyAddons add-ons named
// redis-00000… (created in no order) in one transaction, each attached to it as its add-ons are
// (REDIS_00000…), and returns the app.
func SeedMany(tb testing.TB, s store.Store) store.App {
	tb.Helper()
	ctx := context.Background()
	var app store.App
	err := s.InTx(ctx, func(tx store.Tx) error {
		var err error
		if app, err = tx.CreateApp(ctx, "big"); err != nil {
			return err
		}
		for k := range ManyAddons {
			// Names come in no order, as generated ones do: the rows of a
			// listing by name are all over the table.
			i := k * 7919 % ManyAddons
			a := store.Addon{Name: fmt.Sprintf("redis-%05d", i), Service: "larder-redis", Plan: "mini", AppID: app.ID, State: "provisioned",
				MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
			if err := tx.CreateAddon(ctx, &a); err != nil {
				return err
			}
			at := store.Attachment{AddonID: a.ID, AppID: app.ID, Name: fmt.Sprintf("REDIS_%05d", i)}
			if err := tx.CreateAttachment(ctx, &at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return app
}

// testListManyAddons: 10 000 add-ons list completely, in name order, with
// their app joined. How fast is BenchmarkListAddons' business.
func testListManyAddons(t *testing.T, s store.Store) {
	ctx := context.Background()
	app := SeedMany(t, s)
	full, err := s.AddonByName(ctx, "redis-00042")
	if err != nil {
		t.Fatal(err)
	}
	shown := full
	shown.AdminPassword, shown.CustomerUser, shown.CustomerPassword, shown.Epoch, shown.ReplPassword, shown.CustomerPasswordAlt = "", "", "", 0, "", ""
	for _, tc := range []struct {
		name string
		list func() ([]store.Addon, error)
		want store.Addon // the 43rd, as it lists
	}{
		{"Addons", func() ([]store.Addon, error) { return s.Addons(ctx) }, full},
		{"AddonsOfApp", func() ([]store.Addon, error) { return s.AddonsOfApp(ctx, app.ID) }, full},
		{"ListedAddons", func() ([]store.Addon, error) { return s.ListedAddons(ctx, "") }, shown},
		{"ListedAddons(app)", func() ([]store.Addon, error) { return s.ListedAddons(ctx, app.ID) }, shown},
	} {
		got, err := tc.list()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != ManyAddons {
			t.Fatalf("%s: %d add-ons, want %d", tc.name, len(got), ManyAddons)
		}
		for i, a := range got {
			if want := fmt.Sprintf("redis-%05d", i); a.Name != want || a.AppName != "big" {
				t.Fatalf("%s[%d] = %s of %s, want %s of big", tc.name, i, a.Name, a.AppName, want)
			}
		}
		if got[42] != tc.want {
			t.Errorf("%s[42] = %+v, want %+v", tc.name, got[42], tc.want)
		}
	}
	if none, err := s.ListedAddons(ctx, "no-such-app"); err != nil || len(none) != 0 {
		t.Errorf("ListedAddons of no app = %+v, %v; want none", none, err)
	}
	if n, err := s.CountOwnedAddons(ctx, app.ID); err != nil || n != ManyAddons {
		t.Fatalf("CountOwnedAddons = %d, %v; want %d", n, err, ManyAddons)
	}
}

// testAttachmentsOfAddons: one query gives the attachments of a listing's
// add-ons — an app's (owned or attached), or every one — grouped by add-on,
// each add-on's as AttachmentsOfAddon lists them.
func testAttachmentsOfAddons(t *testing.T, s store.Store) {
	ctx := context.Background()
	web, _ := s.CreateApp(ctx, "web")
	api, _ := s.CreateApp(ctx, "api")
	lone, _ := s.CreateApp(ctx, "lone")
	mine, shared, theirs := seedAddon(t, s, web, "redis-mine"), seedAddon(t, s, api, "redis-shared"), seedAddon(t, s, lone, "redis-theirs")
	for _, at := range []store.Attachment{
		{AddonID: mine.ID, AppID: web.ID, Name: "REDIS"}, {AddonID: mine.ID, AppID: web.ID, Name: "CACHE"},
		{AddonID: shared.ID, AppID: api.ID, Name: "REDIS"}, {AddonID: shared.ID, AppID: web.ID, Name: "SHARED"},
		{AddonID: shared.ID, AppID: lone.ID, Name: "SHARED"}, {AddonID: theirs.ID, AppID: lone.ID, Name: "REDIS"},
	} {
		if err := s.CreateAttachment(ctx, &at); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		app    string
		addons []store.Addon
	}{{web.ID, []store.Addon{mine, shared}}, {"", []store.Addon{mine, shared, theirs}}, {api.ID, []store.Addon{shared}}} {
		got, err := s.AttachmentsOfAddons(ctx, tc.app)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, a := range tc.addons {
			of, err := s.AttachmentsOfAddon(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, at := range of {
				want = append(want, fmt.Sprintf("%s %s on %s", at.AddonName, at.Name, at.AppName))
			}
		}
		// Grouped by add-on, in whichever order of add-ons.
		groups := map[string][]string{}
		for i, at := range got {
			if (i == 0 || got[i-1].AddonID != at.AddonID) && groups[at.AddonID] != nil {
				t.Fatalf("AttachmentsOfAddons(%q): %s's attachments are not together: %+v", tc.app, at.AddonName, got)
			}
			groups[at.AddonID] = append(groups[at.AddonID], fmt.Sprintf("%s %s on %s", at.AddonName, at.Name, at.AppName))
		}
		var flat []string
		for _, a := range tc.addons {
			flat = append(flat, groups[a.ID]...)
		}
		if fmt.Sprint(flat) != fmt.Sprint(want) || len(got) != len(want) {
			t.Errorf("AttachmentsOfAddons(%q) = %v, want %v", tc.app, flat, want)
		}
	}
}

// BenchmarkListAddons measures listing 10 000 add-ons: whole (Addons), and
// as a listing shows them (ListedAddons, what GET /addons reads).
func BenchmarkListAddons(b *testing.B, open Opener) {
	s := open(b)
	SeedMany(b, s)
	ctx := context.Background()
	for name, list := range map[string]func() ([]store.Addon, error){
		"Addons":       func() ([]store.Addon, error) { return s.Addons(ctx) },
		"ListedAddons": func() ([]store.Addon, error) { return s.ListedAddons(ctx, "") },
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := testkit.CPUTime()
			for b.Loop() {
				if got, err := list(); err != nil || len(got) != ManyAddons {
					b.Fatalf("%s = %d, %v", name, len(got), err)
				}
			}
			// The CPU this process spent (PostgreSQL's server spends its own).
			b.ReportMetric(float64((testkit.CPUTime()-cpu).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkClaimPorts measures the port-claim path under concurrency:
// parallel writers each record a node in a transaction of their own, on the
// lowest port of one host they can get.
func BenchmarkClaimPorts(b *testing.B, open Opener) {
	s := open(b)
	ctx := context.Background()
	app, err := s.CreateApp(ctx, "web")
	if err != nil {
		b.Fatal(err)
	}
	a := seedAddon(b, s, app, "redis-a")
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			host := fmt.Sprintf("h%d", i/1000) // a host holds at most 1000 nodes
			err := s.InTx(ctx, func(tx store.Tx) error {
				used, err := tx.UsedPorts(ctx, host, "")
				if err != nil {
					return err
				}
				n := store.Node{AddonID: a.ID, Name: fmt.Sprintf("n-%d", i), Role: store.RoleStandby, Host: host, State: store.NodeStarting}
				return claimLowest(ctx, tx, &n, 21000+len(used), 22000)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
