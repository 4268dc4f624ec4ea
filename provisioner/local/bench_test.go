package local

import (
	"context"
	"testing"
	"time"
)

// BenchmarkStartNode measures a mini node's start (files written, process
// started, PING answered as admin) and removal. start-ms/op is the start
// alone: the part of a provision spent waiting on the engine.
func BenchmarkStartNode(b *testing.B) {
	env := newEnv(b)
	h := env.host(Options{})
	spec := env.spec("bench", false)
	ctx := context.Background()
	var started time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := h.Start(ctx, spec); err != nil {
			b.Fatalf("Start() error = %v", err)
		}
		started += time.Since(t0)
		if err := h.Remove(ctx, spec); err != nil {
			b.Fatalf("Remove() error = %v", err)
		}
	}
	b.ReportMetric(float64(started.Microseconds())/1000/float64(b.N), "start-ms/op")
}
