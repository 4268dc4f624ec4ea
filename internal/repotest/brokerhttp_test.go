package repotest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBrokerCoreHasNoHTTP: package broker and its services' sub-packages
// (pairs, settings, osbsvc, apps, jobs…) are the orchestration core; the
// HTTP adapters over it live in broker/httpapi, broker/osb and broker/ui
// (the dashboard), so the core's rules never depend on a request, a path
// or a status.
func TestBrokerCoreHasNoHTTP(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "larder/broker/...")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list larder/broker/...: %v", err)
	}
	adapters := map[string]bool{"larder/broker/httpapi": true, "larder/broker/osb": true, "larder/broker/ui": true, "larder/broker/brokertest": true}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || adapters[fields[0]] {
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			switch {
			case imp == "net/http", strings.HasPrefix(imp, "net/http/"), imp == "github.com/gorilla/mux",
				imp == "larder/internal/httpjson":
				t.Errorf("%s imports %s; HTTP belongs in broker/httpapi, broker/osb or broker/ui", fields[0], imp)
			}
		}
	}
	if seen < 2 {
		t.Fatalf("go list larder/broker/... listed %d core packages; want broker and its services", seen)
	}
}
