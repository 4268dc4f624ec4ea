package storetest

import (
	"context"
	"reflect"
	"testing"

	"larder/store"
)

// point is a metric point of one sample with every figure set from v.
func point(addon, node string, step, at int64, v float64) store.MetricPoint {
	return store.MetricPoint{AddonID: addon, NodeID: node, Role: store.RolePrimary, Step: step, At: at, Count: 1,
		MemoryUsed: v, MemoryPeak: v, MemoryLimit: 100, CPU: v / 4, Clients: v, ClientsPeak: v, ClientsLimit: 20,
		Ops: v, Hits: v, Misses: 1, Evicted: v, Expired: v, ReplLag: v, ReplOffset: v * 10, PersistFails: 0}
}

func testMetricPointsAddUp(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := []store.MetricPoint{point("a1", "n1", 10, 1000, 4), point("a1", "n1", 300, 900, 4), point("a1", "n2", 10, 1000, 7)}
	if err := s.AddMetricPoints(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := point("a1", "n1", 10, 1000, 6)
	second.Role, second.MemoryLimit, second.PersistFails = store.RoleStandby, 50, 1
	if err := s.AddMetricPoints(ctx, []store.MetricPoint{second, point("a2", "n3", 10, 1000, 1), point("a1", "n1", 10, 1010, 2)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.MetricPoints(ctx, "a1", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := point("a1", "n1", 10, 1000, 0)
	want.Role, want.Count = store.RoleStandby, 2
	want.MemoryUsed, want.MemoryPeak, want.MemoryLimit = 10, 6, 100 // sum, max, max
	want.CPU, want.Clients, want.ClientsPeak, want.ClientsLimit = 2.5, 10, 6, 20
	want.Ops, want.Hits, want.Misses, want.Evicted, want.Expired = 10, 10, 2, 10, 10
	want.ReplLag, want.ReplOffset, want.PersistFails = 10, 60, 1
	if len(got) != 3 {
		t.Fatalf("MetricPoints(a1, 10s) = %+v; want n1@1000, n1@1010, n2@1000", got)
	}
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("folded point:\n got %+v\nwant %+v", got[0], want)
	}
	if got[1].NodeID != "n1" || got[1].At != 1010 || got[2].NodeID != "n2" || got[2].At != 1000 {
		t.Fatalf("order: %+v; want by node then time", got)
	}
	// Another step is a series of its own, and since cuts the older points.
	if coarse, err := s.MetricPoints(ctx, "a1", 300, 0); err != nil || len(coarse) != 1 || coarse[0].Count != 1 || coarse[0].MemoryUsed != 4 {
		t.Fatalf("MetricPoints(a1, 300s) = %+v, %v; want the one 5-minute point untouched", coarse, err)
	}
	if recent, err := s.MetricPoints(ctx, "a1", 10, 1005); err != nil || len(recent) != 1 || recent[0].At != 1010 {
		t.Fatalf("MetricPoints(since 1005) = %+v, %v; want n1@1010 only", recent, err)
	}
	if none, err := s.MetricPoints(ctx, "nope", 10, 0); err != nil || len(none) != 0 {
		t.Fatalf("MetricPoints(unknown add-on) = %+v, %v; want none", none, err)
	}
	if err := s.AddMetricPoints(ctx, nil); err != nil {
		t.Fatalf("AddMetricPoints(nothing) = %v", err)
	}
}

func testMetricPointsPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	var pts []store.MetricPoint
	for at := int64(0); at < 100; at += 10 {
		pts = append(pts, point("a1", "n1", 10, at, 1), point("a1", "n1", 300, at*30, 1))
	}
	if err := s.AddMetricPoints(ctx, pts); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneMetricPoints(ctx, 10, 50)
	if err != nil || n != 5 {
		t.Fatalf("PruneMetricPoints(10s, before 50) = %d, %v; want 5", n, err)
	}
	left, _ := s.MetricPoints(ctx, "a1", 10, 0)
	if len(left) != 5 || left[0].At != 50 {
		t.Fatalf("left %+v; want 50..90", left)
	}
	if coarse, _ := s.MetricPoints(ctx, "a1", 300, 0); len(coarse) != 10 {
		t.Fatalf("pruning the 10 s step removed 5-minute points: %d left, want 10", len(coarse))
	}
}
