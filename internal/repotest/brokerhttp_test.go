package repotest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBrokerCoreHasNoHTTP: package broker is the orchestration core; the
// HTTP APIs over it live in broker/httpapi and broker/osb, so the core's
// rules never depend on a request, a path or a status.
func TestBrokerCoreHasNoHTTP(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "larder/broker")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list larder/broker: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch {
		case imp == "net/http", strings.HasPrefix(imp, "net/http/"), imp == "github.com/gorilla/mux",
			imp == "larder/internal/httpjson":
			t.Errorf("larder/broker imports %s; HTTP belongs in broker/httpapi or broker/osb", imp)
		}
	}
}
