package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"larder/engine"
)

// gatedEngine writes an engine wrapper whose nodes start only when the test
// writes a line to the returned gate: "go" starts one node, anything else
// makes its start fail. It lets a test look at an instance while its
// provision is in progress, for as long as it needs, without timing luck.
func gatedEngine(t *testing.T) (string, *os.File) {
	t.Helper()
	eng, err := engine.Discover()
	if err != nil {
		t.Skipf("no engine: %v", err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "gate")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = --version ]; then exec %q --version; fi\n"+
		"read cmd < %q\n[ \"$cmd\" = go ] || exit 1\nexec %q \"$@\"\n", eng.Path, fifo, eng.Path)
	path := filepath.Join(dir, "gated-server")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Held open for reading and writing, the FIFO never blocks its readers'
	// open; closing it at the end lets any waiting wrapper exit.
	gate, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gate.Close() })
	return path, gate
}

func openGate(t *testing.T, gate *os.File, lines ...string) {
	t.Helper()
	if _, err := gate.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

type osbStep struct {
	name, method, path string
	body               any
	status             int
	code               string
}

func (o *osbAPI) steps(t *testing.T, steps []osbStep) {
	t.Helper()
	for _, s := range steps {
		r := o.do(s.method, s.path, s.body)
		if r.Status != s.status || r.str("error") != s.code {
			t.Errorf("%s: %s %s = %d %q, want %d %q: %s", s.name, s.method, s.path, r.Status, r.str("error"), s.status, s.code, r.Raw)
		}
	}
}

// TestOSBInFlight covers what the spec says of requests that meet an
// operation in progress: a provision, a delete cutting into it, a provision
// that fails and is cleaned up by orphan mitigation, and an update.
func TestOSBInFlight(t *testing.T) {
	engine, gate := gatedEngine(t)
	b := NewBroker(t, "LARDER_OSB_PASSWORD="+osbPassword, "LARDER_ENGINE="+engine)
	o := newOSB(t, b)
	async := "?accepts_incomplete=true"
	params := map[string]any{"service_id": o.service, "parameters": map[string]any{"timeout": 5}}

	// A provision held at the gate.
	const held = "/v2/service_instances/inst-held"
	body := o.provision("mini", "space-f", nil)
	r := o.do("PUT", held+async, body)
	op := r.str("operation")
	if r.Status != http.StatusAccepted || op == "" {
		t.Fatalf("provision = %d %s, want 202", r.Status, r.Raw)
	}
	if r := o.do("PUT", held+async, body); r.Status != http.StatusAccepted || r.str("operation") != op {
		t.Errorf("identical provision in progress = %d %s, want 202 with operation %s", r.Status, r.Raw, op)
	}
	o.steps(t, []osbStep{
		{"identical provision without accepts_incomplete", "PUT", held, body, 422, "AsyncRequired"},
		{"other provision", "PUT", held + async, o.provision("premium-0", "space-f", nil), 409, "Conflict"},
		{"fetch", "GET", held, nil, 404, "NotFound"},
		{"update", "PATCH", held + async, params, 422, "ConcurrencyError"},
		{"bind", "PUT", held + "/service_bindings/b-1", o.bindBody("mini"), 422, "ConcurrencyError"},
		{"delete without accepts_incomplete", "DELETE", held + "?" + o.deleteQuery("mini"), nil, 422, "AsyncRequired"},
	})
	if r := o.do("GET", held+"/last_operation?operation="+op, nil); r.str("state") != "in progress" || r.Header.Get("Retry-After") == "" {
		t.Errorf("last_operation = %s (Retry-After %q), want in progress with Retry-After", r.Raw, r.Header.Get("Retry-After"))
	}

	// A delete cuts in: it is accepted now, reported by last_operation, and
	// destroys what the provision made once that ends.
	r = o.do("DELETE", held+async+"&"+o.deleteQuery("mini"), nil)
	del := r.str("operation")
	if r.Status != http.StatusAccepted || del == "" || del == op {
		t.Fatalf("delete during provision = %d %s, want 202 with a new operation", r.Status, r.Raw)
	}
	if r := o.do("DELETE", held+async+"&"+o.deleteQuery("mini"), nil); r.Status != http.StatusAccepted || r.str("operation") != del {
		t.Errorf("second delete = %d %s, want 202 with operation %s", r.Status, r.Raw, del)
	}
	if r := o.do("GET", held+"/last_operation", nil); r.str("state") != "in progress" || !strings.Contains(r.str("description"), "deprovision") {
		t.Errorf("last_operation during the delete = %s, want the delete in progress", r.Raw)
	}
	openGate(t, gate, "go")
	o.waitState(held, del, "succeeded")
	o.steps(t, []osbStep{
		{"delete again", "DELETE", held + async + "&" + o.deleteQuery("mini"), nil, 410, ""},
		{"fetch deleted", "GET", held, nil, 404, "NotFound"},
	})
	WaitFor(t, 10*time.Second, "the held instance's node to go", func() error {
		if pids := nodePIDs(b.DataDir); len(pids) > 0 {
			return fmt.Errorf("node pids %v", pids)
		}
		return nil
	})

	// A provision that fails: last_operation says so, and the platform's
	// orphan mitigation (a delete) succeeds at once.
	const fails = "/v2/service_instances/inst-fails"
	body = o.provision("mini", "space-f", nil)
	r = o.do("PUT", fails+async, body)
	if r.Status != http.StatusAccepted {
		t.Fatalf("provision = %d %s", r.Status, r.Raw)
	}
	openGate(t, gate, "fail")
	if r := o.waitState(fails, r.str("operation"), "failed"); r.str("description") == "" {
		t.Errorf("failed last_operation without a description: %s", r.Raw)
	}
	o.steps(t, []osbStep{
		{"fetch failed", "GET", fails, nil, 404, "NotFound"},
		{"bind failed", "PUT", fails + "/service_bindings/b-1", o.bindBody("mini"), 404, "NotFound"},
		{"orphan mitigation", "DELETE", fails + "?" + o.deleteQuery("mini"), nil, 200, ""},
		{"orphan mitigation again", "DELETE", fails + "?" + o.deleteQuery("mini"), nil, 410, ""},
		{"last_operation after", "GET", fails + "/last_operation", nil, 200, ""},
	})

	// The id is free again. Spare gate lines let any later node start (a
	// standby for the HA plan) pass.
	r = o.do("PUT", fails+async, body)
	if r.Status != http.StatusAccepted {
		t.Fatalf("provision again = %d %s, want 202", r.Status, r.Raw)
	}
	openGate(t, gate, "go", "go", "go", "go")
	o.waitState(fails, r.str("operation"), "succeeded")

	// An update held by a stopped node (SIGSTOP: its CONFIG SET waits).
	pids := nodePIDs(b.DataDir)
	if len(pids) != 1 {
		t.Fatalf("node pids = %v, want one", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(pids[0], syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	planChange := map[string]any{"service_id": o.service, "plan_id": o.plans["premium-0"]}
	r = o.do("PATCH", fails+async, planChange)
	update := r.str("operation")
	if r.Status != http.StatusAccepted || update == "" {
		resume()
		t.Fatalf("plan change = %d %s, want 202", r.Status, r.Raw)
	}
	again := o.do("PATCH", fails+async, planChange)
	o.steps(t, []osbStep{
		{"fetch while updating", "GET", fails, nil, 422, "ConcurrencyError"},
		{"other update", "PATCH", fails + async, params, 422, "ConcurrencyError"},
		{"delete while updating", "DELETE", fails + async + "&" + o.deleteQuery("mini"), nil, 422, "ConcurrencyError"},
	})
	resume()
	if again.Status != http.StatusAccepted || again.str("operation") != update {
		t.Errorf("identical update in progress = %d %s, want 202 with operation %s", again.Status, again.Raw, update)
	}
	o.waitState(fails, update, "succeeded")
	if r := o.do("GET", fails, nil); r.Status != http.StatusOK || r.str("plan_id") != o.plans["premium-0"] {
		t.Errorf("fetch after the update = %d %s, want premium-0", r.Status, r.Raw)
	}
}

// TestOSBForget checks that finished deletions are remembered for the
// retention (last_operation succeeded), then forgotten (410), and that a
// forgotten id is never mistaken for one never seen (404).
func TestOSBForget(t *testing.T) {
	b := NewBroker(t, "LARDER_OSB_PASSWORD="+osbPassword, "LARDER_OSB_RETENTION=2s")
	o := newOSB(t, b)
	const inst = "/v2/service_instances/inst-short"
	r := o.do("PUT", inst+"?accepts_incomplete=true", o.provision("mini", "space-r", nil))
	o.waitState(inst, r.str("operation"), "succeeded")
	if r := o.do("PUT", inst+"/service_bindings/b-1", o.bindBody("mini")); r.Status != http.StatusCreated {
		t.Fatalf("bind = %d %s", r.Status, r.Raw)
	}
	if r := o.do("DELETE", inst+"/service_bindings/b-1?"+o.deleteQuery("mini"), nil); r.Status != http.StatusOK {
		t.Fatalf("unbind = %d %s", r.Status, r.Raw)
	}
	if r := o.do("GET", inst+"/service_bindings/b-1/last_operation", nil); r.str("state") != "succeeded" {
		t.Errorf("binding last_operation right after unbind = %s, want succeeded", r.Raw)
	}
	r = o.do("DELETE", inst+"?accepts_incomplete=true&"+o.deleteQuery("mini"), nil)
	o.waitState(inst, r.str("operation"), "succeeded")
	for _, path := range []string{inst + "/last_operation", inst + "/service_bindings/b-1/last_operation"} {
		WaitFor(t, 20*time.Second, path+" to be forgotten", func() error {
			if r := o.do("GET", path, nil); r.Status != http.StatusGone {
				return fmt.Errorf("status %d: %s", r.Status, r.Raw)
			}
			return nil
		})
	}
	o.steps(t, []osbStep{
		{"delete forgotten", "DELETE", inst + "?accepts_incomplete=true&" + o.deleteQuery("mini"), nil, 410, ""},
		{"fetch forgotten", "GET", inst, nil, 404, "NotFound"},
		{"never seen", "GET", "/v2/service_instances/never/last_operation", nil, 404, "NotFound"},
	})
	// The forgotten id can be provisioned again.
	r = o.do("PUT", inst+"?accepts_incomplete=true", o.provision("mini", "space-r", nil))
	o.waitState(inst, r.str("operation"), "succeeded")
}
