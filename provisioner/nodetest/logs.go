package nodetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/engine"
	"larder/fault"
	"larder/provisioner"
)

// CheckLogs runs the contract of Host.Logs against h, whose nodes live
// under env.Root, on spec, a node h has started: the tail holds the
// startup lines with their times, a wait ends with a new line, a quiet wait
// ends empty where it began, a cancelled wait ends at once, passwords are
// redacted, and bad or unknown nodes are refused.
func CheckLogs(t *testing.T, env *Env, h provisioner.Host, spec provisioner.NodeSpec) {
	t.Helper()
	ctx := context.Background()
	tail, err := h.Logs(ctx, spec, provisioner.LogRequest{From: -1, Max: 64 << 10})
	if err != nil {
		t.Fatalf("Logs(tail) error = %v", err)
	}
	if !hasLine(tail, "Ready to accept connections") || tail.Next <= 0 {
		t.Fatalf("Logs(tail) = %+v, want the startup lines and an offset", tail)
	}
	for _, l := range tail.Lines {
		if strings.HasPrefix(l.Text, "*") && (l.At.IsZero() || time.Since(l.At) > time.Hour || time.Until(l.At) > time.Minute) {
			t.Errorf("line %q has time %v, want the time the engine wrote it", l.Text, l.At)
		}
	}

	quiet, err := h.Logs(ctx, spec, provisioner.LogRequest{From: tail.Next, Wait: 100 * time.Millisecond})
	if err != nil || len(quiet.Lines) != 0 || quiet.Next != tail.Next {
		t.Errorf("Logs(quiet wait) = %+v, %v; want no lines, still at %d", quiet, err, tail.Next)
	}

	type result struct {
		c   provisioner.LogChunk
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := h.Logs(ctx, spec, provisioner.LogRequest{From: tail.Next, Wait: 20 * time.Second})
		got <- result{c, err}
	}()
	// SAVE makes the engine log "DB saved on disk". It runs once the wait
	// has begun or before: either way the wait must return the line.
	if err := Client(t, spec, spec.Admin).Save(ctx).Err(); err != nil {
		t.Fatalf("SAVE error = %v", err)
	}
	r := <-got
	if r.err != nil || !hasLine(r.c, "DB saved on disk") || r.c.Next <= tail.Next {
		t.Errorf("Logs(wait) = %+v, %v; want the SAVE's line after %d", r.c, r.err, tail.Next)
	}

	// A password in the log (a config error quotes the line it read) is
	// redacted.
	f, err := os.OpenFile(filepath.Join(env.Root, spec.Name, engine.LogFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("1:M 06 Dec 2026 09:00:00.000 # bad line 'user default on >" + spec.Customer.Password + "'\n")
	f.Close()
	red, err := h.Logs(ctx, spec, provisioner.LogRequest{From: r.c.Next})
	if err != nil || !hasLine(red, "[redacted]") {
		t.Errorf("Logs(after a password was logged) = %+v, %v; want it redacted", red, err)
	}
	for _, l := range red.Lines {
		if strings.Contains(l.Text, spec.Customer.Password) {
			t.Errorf("Logs() line %q holds the customer's password", l.Text)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() {
		c, err := h.Logs(cctx, spec, provisioner.LogRequest{From: red.Next, Wait: 20 * time.Second})
		got <- result{c, err}
	}()
	cancel()
	if r := <-got; !errors.Is(r.err, context.Canceled) {
		t.Errorf("Logs(cancelled) = %+v, %v; want it to end with the context", r.c, r.err)
	}

	unknown := env.Spec("never-started", false)
	if _, err := h.Logs(ctx, unknown, provisioner.LogRequest{}); fault.KindOf(err) != fault.NotFound {
		t.Errorf("Logs(unknown node) error = %v, want NotFound", err)
	}
	bad := spec
	bad.Name = "../" + spec.Name
	if _, err := h.Logs(ctx, bad, provisioner.LogRequest{}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("Logs(../name) error = %v, want Invalid", err)
	}
}

func hasLine(c provisioner.LogChunk, part string) bool {
	for _, l := range c.Lines {
		if strings.Contains(l.Text, part) {
			return true
		}
	}
	return false
}
