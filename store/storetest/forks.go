package storetest

import (
	"context"
	"testing"

	"larder/fault"
	"larder/store"
)

func testForkPasswordGoesWhenDone(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	if _, err := s.ForkOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("ForkOf before any fork: %v, want NotFound", err)
	}
	f := store.Fork{AddonID: a.ID, Source: "redis://u:***@h:6379", Host: "h", Port: 6379, Username: "u", Password: "secret"}
	if err := s.CreateFork(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if got := fault.KindOf(s.CreateFork(ctx, &f)); got != fault.Conflict {
		t.Errorf("second fork of one add-on: kind %v, want %v", got, fault.Conflict)
	}
	p := store.ForkProgress{State: store.ForkSyncing, Method: "sync", BytesDone: 10, BytesTotal: 100, KeysTotal: 5}
	if err := s.UpdateForkProgress(ctx, a.ID, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.ForkOf(ctx, a.ID)
	if err != nil || got.State != store.ForkSyncing || got.BytesDone != 10 || got.Password != "secret" {
		t.Fatalf("ForkOf while syncing = %+v, %v", got, err)
	}
	p.KeysDone, p.BytesDone = 5, 100
	if err := s.FinishFork(ctx, a.ID, p); err != nil {
		t.Fatal(err)
	}
	got, err = s.ForkOf(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Password != "" || got.Username != "" {
		t.Errorf("credentials kept after the fork: user %q, password set %v", got.Username, got.Password != "")
	}
	if got.State != store.ForkDone || got.KeysDone != 5 || got.FinishedAt == nil || got.Source != f.Source {
		t.Errorf("finished fork = %+v", got)
	}
	if err := s.DeleteAddon(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ForkOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Errorf("fork row after the add-on was deleted: %v, want NotFound", err)
	}
}

func testFollowSetReplaceDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	app, _ := s.CreateApp(ctx, "web")
	a := seedAddon(t, s, app, "redis-a")
	for _, port := range []int{6379, 6380} {
		if err := s.SetFollow(ctx, &store.Follow{AddonID: a.ID, Leader: "redis://:***@h", Host: "h", Port: port, Password: "pw"}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := s.FollowOf(ctx, a.ID)
	if err != nil || f.Port != 6380 || f.Password != "pw" {
		t.Fatalf("FollowOf = %+v, %v; want the second leader", f, err)
	}
	all, err := s.Follows(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("Follows = %v, %v; want one", all, err)
	}
	if err := s.DeleteFollow(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := fault.KindOf(s.DeleteFollow(ctx, a.ID)); got != fault.NotFound {
		t.Errorf("second unfollow: kind %v, want %v", got, fault.NotFound)
	}
	if _, err := s.FollowOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Errorf("FollowOf after delete: %v", err)
	}
}
