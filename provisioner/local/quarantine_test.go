package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"larder/provisioner"
	"larder/provisioner/nodetest"
)

func TestQuarantine(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(Options{})
	spec := env.spec("orphan", true)
	n := startNode(t, h, spec)
	fill(t, spec, 10)
	if err := h.Quarantine(context.Background(), spec); err != nil {
		t.Fatalf("Quarantine() error = %v", err)
	}
	nodetest.CheckQuarantined(t, env.Env, spec, n)
	st, err := h.Status(context.Background())
	if err != nil || len(st.Nodes) != 0 {
		t.Errorf("Status() after Quarantine = %+v, %v; want no node", st.Nodes, err)
	}
}

func TestQuarantineUnsupervised(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.host(Options{})
	spec := env.spec("left-behind", true)
	n := startNode(t, first, spec)
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A new host knows the node only by its directory, as the reconciler
	// names it.
	second := env.host(Options{})
	if err := second.Quarantine(context.Background(), provisioner.NodeSpec{ID: spec.Name, Name: spec.Name}); err != nil {
		t.Fatalf("Quarantine() error = %v", err)
	}
	nodetest.CheckQuarantined(t, env.Env, spec, n)
}

func TestQuarantinePurged(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	q := filepath.Join(filepath.Dir(env.Root), "quarantine")
	names := map[string]bool{ // → kept
		"redis-a-1-" + now.Add(-8*24*time.Hour).Format(quarantineStamp): false,
		"redis-b-2-" + now.Add(-6*24*time.Hour).Format(quarantineStamp): true,
		"notes": true, // not larder's: no time in its name
	}
	for name := range names {
		if err := os.MkdirAll(filepath.Join(q, name, "appendonlydir"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env.host(Options{Now: func() time.Time { return now }}) // purges as it starts
	for name, kept := range names {
		_, err := os.Stat(filepath.Join(q, name))
		if got := err == nil; got != kept {
			t.Errorf("%s kept = %v (%v), want %v", name, got, err, kept)
		}
	}
}
