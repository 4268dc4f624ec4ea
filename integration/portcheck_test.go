package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"larder/api"
)

// stubAgent answers the agent API as a host that is alive but whose port
// check never answers (a hung agent, a dead link behind a live proxy): it
// says ports in busy are taken and holds every other check until the broker
// gives up on it.
type stubAgent struct {
	srv     *httptest.Server
	name    string
	busy    map[int]bool
	release chan struct{}

	mu      sync.Mutex
	asked   []int // ports checked, in order
	pending atomic.Int32
	gaveUp  atomic.Int32 // checks the broker abandoned (its deadline)
}

func newStubAgent(t *testing.T, name string, busy ...int) *stubAgent {
	t.Helper()
	s := &stubAgent{name: name, busy: map[int]bool{}, release: make(chan struct{})}
	for _, p := range busy {
		s.busy[p] = true
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.release)
		s.srv.Close()
	})
	return s
}

func (s *stubAgent) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/v1/status":
		json.NewEncoder(w).Encode(map[string]any{"name": s.name, "addr": "127.0.0.1",
			"engine": map[string]string{"Name": "redis", "Version": "7.0"}, "nodes": []any{}})
	case r.URL.Path == "/v1/events":
		json.NewEncoder(w).Encode(map[string]any{"boot": "stub", "events": []any{}, "last": 0})
	case strings.HasPrefix(r.URL.Path, "/v1/ports/"):
		port, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/v1/ports/"))
		s.mu.Lock()
		s.asked = append(s.asked, port)
		s.mu.Unlock()
		if s.busy[port] {
			json.NewEncoder(w).Encode(map[string]bool{"free": false})
			return
		}
		s.pending.Add(1)
		defer s.pending.Add(-1)
		select {
		case <-r.Context().Done():
			s.gaveUp.Add(1)
		case <-s.release:
		}
	default:
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"id": "unavailable", "message": "stub agent runs no nodes"})
	}
}

func (s *stubAgent) portsAsked() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.asked...)
}

// TestPortCheckOutsideTransaction: a host whose port check hangs holds no
// store transaction (other writes go through meanwhile), a port the host
// says is taken is given up for the next one, and the create fails within
// the broker's deadline with an error naming the host and the port.
func TestPortCheckOutsideTransaction(t *testing.T) {
	b := NewBroker(t, "LARDER_NO_LOCAL_NODES=1")
	ctx := context.Background()
	stub := newStubAgent(t, "slow", b.Ports[0])
	if _, err := b.Client().RegisterHost(ctx, api.HostRegister{Name: "slow", URL: stub.srv.URL, Token: "stub-token"}); err != nil {
		t.Fatal(err)
	}
	b.MustLarder("apps:create", "web")

	// Before the fix the create request itself hangs: send it aside.
	type created struct {
		res api.AddonResult
		err error
	}
	done := make(chan created, 1)
	go func() {
		res, err := b.Client().CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:mini"})
		done <- created{res, err}
	}()
	WaitFor(t, 20*time.Second, "the port check to reach the host", func() error {
		if stub.pending.Load() == 0 {
			return fmt.Errorf("ports asked so far: %v", stub.portsAsked())
		}
		return nil
	})
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := b.Client().CreateApp(wctx, "other"); err != nil {
		t.Fatalf("another write while the host's port check hangs: %v", err)
	}
	if stub.pending.Load() == 0 {
		t.Fatalf("another write completed only after the port check ended: a store transaction was held across the network call")
	}

	var c created
	select {
	case c = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the create request did not return")
	}
	if c.err != nil {
		t.Fatalf("create: %v", c.err)
	}
	op, err := b.Client().WaitOperation(ctx, c.res.Operation.ID, 50*time.Millisecond, nil)
	if err == nil || op.State != api.OpFailed {
		t.Fatalf("create on a host whose port check hangs: %+v, %v; want a failed operation", op, err)
	}
	want := fmt.Sprintf("host slow did not answer whether port %d is free", b.Ports[0]+1)
	if !strings.Contains(op.Error, want) {
		t.Errorf("error = %q, want it to say %q", op.Error, want)
	}
	if got := stub.portsAsked(); len(got) < 2 || got[0] != b.Ports[0] || got[1] != b.Ports[0]+1 {
		t.Errorf("ports checked %v: want %d (taken) then %d", got, b.Ports[0], b.Ports[0]+1)
	}
	// The stub sees the broker give up when its connection closes, a moment
	// after the broker's own deadline.
	WaitFor(t, 10*time.Second, "the broker to give up on the hanging port check", func() error {
		if stub.gaveUp.Load() == 0 {
			return fmt.Errorf("the stub's request is still open")
		}
		return nil
	})
	if addons, err := b.Client().Addons(ctx, "web"); err != nil || len(addons) != 0 {
		t.Errorf("add-ons after the failed create: %+v, %v; want none", addons, err)
	}
}
