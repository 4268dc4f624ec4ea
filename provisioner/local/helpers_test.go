package local

import (
	"context"
	"testing"
	"time"

	"larder/fault"
	"larder/internal/testkit"
	"larder/provisioner"
	"larder/provisioner/nodetest"
)

// This package's tests draw node ports from its own range.
func init() { nodetest.Ports = testkit.Local }

// The shared helpers of tests that run real nodes, under their short names.
var (
	requireEngine = nodetest.RequireEngine
	freePort      = nodetest.FreePort
	waitFor       = nodetest.WaitFor
	randomHex     = nodetest.RandomHex
	client        = nodetest.Client
	targetOf      = nodetest.Target
	fill          = nodetest.Fill
	pidsUnder     = nodetest.PidsUnder
	running       = nodetest.Running
	sessionOf     = nodetest.SessionOf
)

// testEnv is nodetest's environment with a host of this package.
type testEnv struct{ *nodetest.Env }

func newEnv(tb testing.TB) *testEnv { return &testEnv{nodetest.NewEnv(tb)} }

func (e *testEnv) spec(name string, persistent bool) provisioner.NodeSpec {
	return e.Spec(name, persistent)
}

// host starts a Host on the env's root with fast test intervals; opts
// fields left zero take those, and the host is closed at cleanup.
func (e *testEnv) host(opts Options) *Host {
	e.TB.Helper()
	opts.Root, opts.Engine, opts.Log = e.Root, e.Engine, e.Log
	if also := opts.OnEvent; also != nil {
		opts.OnEvent = func(ev provisioner.Event) { e.Events.Add(ev); also(ev) }
	} else {
		opts.OnEvent = e.Events.Add
	}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = 50 * time.Millisecond
	}
	if opts.HangTimeout == 0 {
		opts.HangTimeout = 2 * time.Second
	}
	if opts.BackoffMin == 0 {
		opts.BackoffMin = 20 * time.Millisecond
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 200 * time.Millisecond
	}
	h, err := New(opts)
	if err != nil {
		e.TB.Fatalf("New() error = %v", err)
	}
	e.TB.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			e.TB.Errorf("Close() error = %v", err)
		}
	})
	return h
}

func wantKind(t *testing.T, what string, err error, kind fault.Kind) {
	t.Helper()
	if got := fault.KindOf(err); got != kind {
		t.Errorf("%s error = %v (kind %s), want kind %s", what, err, got, kind)
	}
}

func mustPortFree(t *testing.T, h provisioner.Host, port int) bool {
	t.Helper()
	free, err := h.PortFree(context.Background(), port)
	if err != nil {
		t.Fatalf("PortFree(%d) error = %v", port, err)
	}
	return free
}
