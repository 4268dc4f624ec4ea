package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"larder/store"
)

// listing is what a listing of add-ons shows: ListedAddons and
// AttachmentsOfAddons of every app.
type listing struct {
	addons []store.Addon
	atts   []store.Attachment
}

func readListing(t *testing.T, s store.Store) (listing, int64) {
	t.Helper()
	ctx := context.Background()
	head, err := s.ChangeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var l listing
	if l.addons, err = s.ListedAddons(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if l.atts, err = s.AttachmentsOfAddons(ctx, ""); err != nil {
		t.Fatal(err)
	}
	return l, head
}

// listingWorld is what the steps of testChangesCoverListings act on.
type listingWorld struct {
	web, other, third store.App
	a, b              store.Addon // a is changed in every way; b is created and deleted
	att               store.Attachment
}

// testChangesCoverListings: every store write that changes what a listing
// shows writes a change in its transaction, so the feed's head moving is a
// sound test of a listing being stale (the broker serves a cached listing
// while the head stays put). That includes writes that move only updated_at
// (a state set again), the engine alone, and a transfer under the same
// name. Each step runs on what the ones before left, and must change the
// listing (or the step tests nothing) and move the head.
func testChangesCoverListings(t *testing.T, s store.Store) {
	ctx := context.Background()
	var w listingWorld
	w.web, _ = s.CreateApp(ctx, "web")
	w.other, _ = s.CreateApp(ctx, "other")
	w.a = seedAddon(t, s, w.web, "redis-listed")
	steps := []struct {
		name string
		do   func(w *listingWorld) error
	}{
		{"add-on created", func(w *listingWorld) error {
			w.b = store.Addon{Name: "redis-brief", Service: "larder-redis", Plan: "mini", AppID: w.web.ID, State: "provisioning",
				MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
			return s.CreateAddon(ctx, &w.b)
		}},
		{"state", func(w *listingWorld) error { return s.SetAddonState(ctx, w.a.ID, "provisioned", "") }},
		{"same state, other reason", func(w *listingWorld) error { return s.SetAddonState(ctx, w.a.ID, "provisioned", "slow disk") }},
		{"same state and reason (updated_at alone)", func(w *listingWorld) error {
			return s.SetAddonState(ctx, w.a.ID, "provisioned", "slow disk")
		}},
		{"engine and version", func(w *listingWorld) error { return s.SetAddonEngine(ctx, w.a.ID, "redis", "7.0.15") }},
		{"engine only", func(w *listingWorld) error { return s.SetAddonEngine(ctx, w.a.ID, "valkey", "7.0.15") }},
		{"version only", func(w *listingWorld) error { return s.SetAddonEngine(ctx, w.a.ID, "valkey", "7.2.5") }},
		{"settings", func(w *listingWorld) error { return s.UpdateAddonSettings(ctx, w.a.ID, "allkeys-lru", 300, "Ex") }},
		{"settings as they were (updated_at alone)", func(w *listingWorld) error {
			return s.UpdateAddonSettings(ctx, w.a.ID, "allkeys-lru", 300, "Ex")
		}},
		{"customer passwords", func(w *listingWorld) error { return s.SetCustomerPasswords(ctx, w.a.ID, "c2", "c") }},
		{"plan", func(w *listingWorld) error { return s.SetAddonPlan(ctx, w.a.ID, "premium-0") }},
		{"epoch bump", func(w *listingWorld) error {
			epoch, err := s.AddonEpoch(ctx, w.a.ID)
			if err != nil {
				return err
			}
			_, err = s.AdvanceEpoch(ctx, w.a.ID, epoch)
			return err
		}},
		{"transfer under the same name", func(w *listingWorld) error { return handOver(ctx, s, w.a.ID, w.web.ID, w.other.ID, w.a.Name) }},
		{"transfer under a new name", func(w *listingWorld) error {
			return handOver(ctx, s, w.a.ID, w.other.ID, w.web.ID, "redis-renamed")
		}},
		{"attachment created", func(w *listingWorld) error {
			w.att = store.Attachment{AddonID: w.a.ID, AppID: w.other.ID, Name: "SHARED"}
			return s.CreateAttachment(ctx, &w.att)
		}},
		{"attachment deleted", func(w *listingWorld) error { return s.DeleteAttachment(ctx, w.att.ID) }},
		{"attachment created again", func(w *listingWorld) error {
			return s.CreateAttachment(ctx, &store.Attachment{AddonID: w.a.ID, AppID: w.other.ID, Name: "AGAIN"})
		}},
		{"attachments of the add-on deleted", func(w *listingWorld) error { return s.DeleteAttachmentsOfAddon(ctx, w.a.ID) }},
		{"attached to a third app", func(w *listingWorld) error {
			var err error
			if w.third, err = s.CreateApp(ctx, "third"); err != nil {
				return err
			}
			return s.CreateAttachment(ctx, &store.Attachment{AddonID: w.a.ID, AppID: w.third.ID, Name: "THIRD"})
		}},
		{"attached app deleted", func(w *listingWorld) error { return s.DeleteApp(ctx, w.third.ID) }},
		{"add-on deleted", func(w *listingWorld) error { return s.DeleteAddon(ctx, w.b.ID) }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before, from := readListing(t, s)
			if err := st.do(&w); err != nil {
				t.Fatal(err)
			}
			after, to := readListing(t, s)
			changed := !reflect.DeepEqual(before, after)
			if !changed {
				t.Fatalf("the listing did not change: the step tests nothing")
			}
			if to == from {
				t.Errorf("the listing changed and the change feed's head stayed at %d: a cached listing would be served stale", from)
			}
		})
	}
}

// handOver is HandOverAddon that must take the add-on.
func handOver(ctx context.Context, s store.Store, id, from, to, name string) error {
	took, err := s.HandOverAddon(ctx, id, from, to, name)
	if err == nil && !took {
		err = fmt.Errorf("hand over %s: not taken", name)
	}
	return err
}
