package repotest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestCLIImportsNoServerPieces: the users' command line, package cli and
// every package under it, talks to a broker through package api only. It
// never builds a store, a host, an engine, the broker, the HA coordinator or
// an observer (package daemon does, and cmd/larder-server joins the two), so
// the larder binary, cmd/larder, leaves them out, and with them the
// libraries only the servers use: every command a user types starts
// without their weight.
func TestCLIImportsNoServerPieces(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "larder/cli/...", "larder/cmd/larder").Output()
	if err != nil {
		t.Skipf("skipping: go list: %v", err)
	}
	// Package ha itself is the observers' pure decision rules, which the
	// monitors command explains; its coordinator and observer are not.
	forbidden := []string{"larder/store", "larder/provisioner", "larder/engine", "larder/broker", "larder/daemon", "larder/ha/", "larder/edge", "larder/backup",
		"github.com/mattn/go-sqlite3", "github.com/jackc/pgx/", "github.com/prometheus/", "github.com/minio/", "github.com/sirupsen/logrus"}
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		deps := strings.Fields(line)
		pkg := deps[0]
		pkgs = append(pkgs, pkg)
		for _, dep := range deps[1:] {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
					t.Errorf("package %s depends on %s: the command line reaches the broker through package api only (server roles live in package daemon)", pkg, dep)
				}
			}
		}
	}
	// The pattern must reach the sub-packages, or a move under cli/ would
	// leave them unchecked.
	for _, want := range []string{"larder/cli", "larder/cli/cmdkit", "larder/cli/rediscmd", "larder/cmd/larder"} {
		if !slices.Contains(pkgs, want) {
			t.Errorf("go list larder/cli/... lists %q, not %s", pkgs, want)
		}
	}
}
