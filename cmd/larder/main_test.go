package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"larder/internal/testkit"
)

// TestServerRolesHandedOver: `larder broker --help` is larder-server's own
// help, whichever way it is asked; without larder-server, larder says where
// it looked and what puts it there, and fails.
func TestServerRolesHandedOver(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipping: no go tool on PATH to build larder")
	}
	dir := t.TempDir()
	larder, err := testkit.BuildLarder(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(larder, args...)
		cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{{"broker", "--help"}, {"agent", "-h"}, {"monitor", "--help"}, {"edge", "--help"}} {
		out, err := run(args...)
		// Each role's own flags show: the help came from larder-server.
		if err != nil || !strings.Contains(out, "larder "+args[0]) || !strings.Contains(out, "--log-level") {
			t.Errorf("larder %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := run("help")
	if err != nil || !strings.Contains(out, "broker") || !strings.Contains(out, "run the broker: the HTTP API") {
		t.Errorf("larder help lists no broker role: %v\n%s", err, out)
	}

	if err := os.Remove(filepath.Join(dir, "larder-server")); err != nil {
		t.Fatal(err)
	}
	out, err = run("broker", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "larder-server, which is neither beside this larder nor on PATH") || !strings.Contains(out, "make install") {
		t.Errorf("larder broker without larder-server: %v\n%s", err, out)
	}
	// The users' commands need no larder-server.
	if out, err := run("addons:plans", "--help"); err != nil || !strings.Contains(out, "addons:plans") {
		t.Errorf("larder addons:plans --help without larder-server: %v\n%s", err, out)
	}
}
