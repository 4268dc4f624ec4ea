package repotest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCLIImportsNoServerPieces: the users' command line talks to a broker
// through package api only. It never builds a store, a host, an engine, the
// broker, the HA coordinator or an observer (package daemon does, and
// cmd/larder joins the two), so a client binary could leave them out.
func TestCLIImportsNoServerPieces(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "larder/cli").Output()
	if err != nil {
		t.Skipf("skipping: go list: %v", err)
	}
	// Package ha itself is the observers' pure decision rules, which the
	// monitors command explains; its coordinator and observer are not.
	forbidden := []string{"larder/store", "larder/provisioner", "larder/engine", "larder/broker", "larder/daemon", "larder/ha/", "larder/edge", "larder/backup"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("package cli depends on %s: the command line reaches the broker through package api only (server roles live in package daemon)", dep)
			}
		}
	}
}
