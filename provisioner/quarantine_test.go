package provisioner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// quarantined lists the quarantine folder of env's hosts.
func quarantined(t *testing.T, env *testEnv) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(filepath.Dir(env.root), "quarantine"))
	if err != nil {
		t.Fatalf("read quarantine: %v", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// checkQuarantined checks that the node of spec no longer runs, that its
// directory left the root, and that it sits in quarantine with its data.
func checkQuarantined(t *testing.T, env *testEnv, spec NodeSpec, n Node) {
	t.Helper()
	if running(n.PID) || len(pidsUnder(n.Dir)) != 0 {
		t.Errorf("process %d still runs after Quarantine", n.PID)
	}
	if _, err := os.Stat(n.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node dir after Quarantine: %v, want it moved away", err)
	}
	got := quarantined(t, env)
	if len(got) != 1 {
		t.Fatalf("quarantine = %v, want one entry for %s", got, spec.Name)
	}
	if !hasAOF(filepath.Join(filepath.Dir(env.root), "quarantine", got[0])) {
		t.Errorf("quarantined %s holds no AOF: its data was not kept", got[0])
	}
	fi, err := os.Stat(filepath.Join(filepath.Dir(env.root), "quarantine"))
	if err != nil || fi.Mode().Perm() != dirPerm {
		t.Errorf("quarantine dir = %v, %v; want mode %v", fi.Mode().Perm(), err, dirPerm)
	}
}

func TestQuarantine(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	h := env.host(LocalOptions{})
	spec := env.spec("orphan", true)
	n := startNode(t, h, spec)
	fill(t, spec, 10)
	if err := h.Quarantine(context.Background(), spec); err != nil {
		t.Fatalf("Quarantine() error = %v", err)
	}
	checkQuarantined(t, env, spec, n)
	st, err := h.Status(context.Background())
	if err != nil || len(st.Nodes) != 0 {
		t.Errorf("Status() after Quarantine = %+v, %v; want no node", st.Nodes, err)
	}
}

func TestQuarantineUnsupervised(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.host(LocalOptions{})
	spec := env.spec("left-behind", true)
	n := startNode(t, first, spec)
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A new host knows the node only by its directory, as the reconciler
	// names it.
	second := env.host(LocalOptions{})
	if err := second.Quarantine(context.Background(), NodeSpec{ID: spec.Name, Name: spec.Name}); err != nil {
		t.Fatalf("Quarantine() error = %v", err)
	}
	checkQuarantined(t, env, spec, n)
}

func TestQuarantinePurged(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	q := filepath.Join(filepath.Dir(env.root), "quarantine")
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
	env.host(LocalOptions{Now: func() time.Time { return now }}) // purges as it starts
	for name, kept := range names {
		_, err := os.Stat(filepath.Join(q, name))
		if got := err == nil; got != kept {
			t.Errorf("%s kept = %v (%v), want %v", name, got, err, kept)
		}
	}
}

func TestRemoteHostQuarantine(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	r, _ := env.remote(a.url(), a.token)
	spec := env.spec("remote-orphan", true)
	n, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, spec, 10)
	if err := r.Quarantine(context.Background(), spec); err != nil {
		t.Fatalf("Quarantine() error = %v", err)
	}
	checkQuarantined(t, env, spec, n)
}
