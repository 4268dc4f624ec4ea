package agent

import (
	"context"
	"testing"
	"time"

	"larder/internal/testkit"
	"larder/provisioner"
	"larder/provisioner/local"
	"larder/provisioner/nodetest"
)

// This package's tests draw node ports from its own range.
func init() { nodetest.Ports = testkit.Agent }

// The shared helpers of tests that run real nodes, under their short names.
var (
	freePort  = nodetest.FreePort
	waitFor   = nodetest.WaitFor
	randomHex = nodetest.RandomHex
	client    = nodetest.Client
	running   = nodetest.Running
	targetOf  = nodetest.Target
	fill      = nodetest.Fill
)

// testEnv is nodetest's environment with local hosts and agents over it.
type testEnv struct{ *nodetest.Env }

func newEnv(tb testing.TB) *testEnv { return &testEnv{nodetest.NewEnv(tb)} }

func (e *testEnv) spec(name string, persistent bool) provisioner.NodeSpec {
	return e.Spec(name, persistent)
}

// host starts a local host on the env's root, checking its nodes every 50ms
// and recording its events (then calling opts.OnEvent); closed at cleanup.
func (e *testEnv) host(opts local.Options) *local.Host {
	e.TB.Helper()
	also := opts.OnEvent
	opts.Root, opts.Engine, opts.Log, opts.CheckInterval = e.Root, e.Engine, e.Log, 50*time.Millisecond
	opts.OnEvent = func(ev provisioner.Event) {
		e.Events.Add(ev)
		if also != nil {
			also(ev)
		}
	}
	h, err := local.New(opts)
	if err != nil {
		e.TB.Fatalf("local.New() error = %v", err)
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
