package ui

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"larder/internal/testkit"
)

func TestSpinnerNotTerminal(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"done", nil, "Creating ⬢ web... done\n"},
		{"failed", errors.New("boom"), "Creating ⬢ web... failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			sp := StartSpinner(&b, false, "Creating ⬢ web")
			sp.SetStatus("starting node")
			if got := sp.FinishErr(tt.err); got != tt.err {
				t.Errorf("FinishErr: got %v, want %v", got, tt.err)
			}
			sp.Finish("again") // later calls print nothing
			if b.String() != tt.want {
				t.Errorf("output: got %q, want %q", b.String(), tt.want)
			}
		})
	}
}

func TestSpinnerAnimates(t *testing.T) {
	var b testkit.SyncBuffer
	sp := startSpinnerEvery(&b, true, "Waiting for redis-a", time.Millisecond)
	sp.SetStatus("starting node")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), "starting node") {
		if time.Now().After(deadline) {
			t.Fatalf("status never shown; output %q", b.String())
		}
		time.Sleep(time.Millisecond)
	}
	sp.Finish("done")
	select {
	case <-sp.done:
	default:
		t.Fatal("spinner goroutine still running after finish")
	}
	out := b.String()
	if !strings.HasSuffix(out, "\r\x1b[KWaiting for redis-a... done\n") {
		t.Errorf("final line: got %q, want it to end with the cleared done line", out)
	}
	if !strings.Contains(out, spinnerFrames[0]) {
		t.Errorf("output %q has no spinner frame", out)
	}
}
