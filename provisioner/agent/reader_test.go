package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"larder/provisioner"
	"larder/provisioner/nodetest"
)

// sharedCursor is how far an agent's events were read, kept where every
// reader finds it (brokers keep it in their store).
type sharedCursor struct {
	mu sync.Mutex
	at EventCursor
}

// turnReader reads an agent's events while the turn is its own.
type turnReader struct {
	turn   *atomic.Int32
	me     int32
	shared *sharedCursor
	got    *nodetest.Recorder
}

func (t turnReader) BeginRead(parent context.Context, _ string) (context.Context, EventCursor, func(), bool) {
	if t.turn.Load() != t.me {
		return nil, EventCursor{}, nil, false
	}
	t.shared.mu.Lock()
	defer t.shared.mu.Unlock()
	return parent, t.shared.at, func() {}, true
}

func (t turnReader) Handle(_ context.Context, e provisioner.Event) { t.got.Add(e) }

func (t turnReader) Advance(_ context.Context, _ string, c EventCursor) error {
	t.shared.mu.Lock()
	defer t.shared.mu.Unlock()
	t.shared.at = c
	return nil
}

// TestRemoteHostEventReaderTakesTurns: two RemoteHosts watch one agent, as
// two brokers do; only the one whose turn it is reads the events, and the
// next one carries on from the cursor the first recorded: every event is
// handled once, by one of them.
func TestRemoteHostEventReaderTakesTurns(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := env.agent()
	var turn atomic.Int32
	turn.Store(1)
	shared := &sharedCursor{}
	got := []*nodetest.Recorder{{}, {}}
	var rs []*RemoteHost
	for i := range 2 {
		r, err := NewRemoteHost(RemoteOptions{Name: "h1", URL: a.url(), Token: a.token, PollInterval: 50 * time.Millisecond, Log: env.Log,
			Events: turnReader{turn: &turn, me: int32(i + 1), shared: shared, got: got[i]}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(context.Background()) })
		rs = append(rs, r)
	}
	spec := env.spec("reader-turns", false)
	n, err := rs[0].Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first := got[0].Wait(t, spec.ID, provisioner.EventRestarted, 0, 10*time.Second)
	waitFor(t, 5*time.Second, func() error {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if shared.at.Seq < 2 {
			return fmt.Errorf("shared cursor %+v, want past both events", shared.at)
		}
		return nil
	})

	turn.Store(2)
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := got[1].Wait(t, spec.ID, provisioner.EventRestarted, 0, 10*time.Second)
	if evs := got[1].All(spec.ID); len(evs) != 2 || evs[0].Kind != provisioner.EventExited || evs[0].PID != first.PID || second.PID == first.PID {
		t.Errorf("second reader's events = %+v; want only the second crash (pid %d exiting, then restarted)", evs, first.PID)
	}
	if evs := got[0].All(spec.ID); len(evs) != 2 {
		t.Errorf("first reader's events = %+v; want only the first crash's two", evs)
	}
}
