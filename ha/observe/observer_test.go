package observe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"larder/api"
)

// silentListener accepts connections and never answers: a node on a host
// whose link is too slow for the probe's deadline.
func silentListener(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// TestProbeTimeoutIsAnObservation: a probe that runs out of time, node and
// agent alike, says so and returns; it is a finding, not an error of the
// round (issue 18.2).
func TestProbeTimeoutIsAnObservation(t *testing.T) {
	addr := silentListener(t)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer agent.Close()
	tg := api.MonitorTarget{NodeID: "n", Addr: addr.IP.String(), Port: addr.Port, AgentURL: agent.URL}
	done := make(chan api.NodeObservation, 1)
	go func() { done <- Probe(context.Background(), tg, 150*time.Millisecond) }()
	select {
	case o := <-done:
		if o.Up || !strings.Contains(o.Error, "no answer in 150 ms") {
			t.Errorf("observation %+v: want down, \"no answer in 150 ms\"", o)
		}
		if o.AgentUp == nil || *o.AgentUp {
			t.Errorf("agent seen as %v, want not answering", o.AgentUp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the probe did not return: its deadline is not kept")
	}
}
