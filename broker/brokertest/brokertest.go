// Package brokertest builds real brokers for tests — broker's own external
// tests (package broker_test) and its HTTP adapters': a broker over a real
// SQLite file and a real local host whose nodes are engine processes, closed
// with the test.
package brokertest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/broker"
	"larder/engine"
	"larder/internal/testkit"
	"larder/provisioner"
	"larder/provisioner/local"
	"larder/store"
	"larder/store/sqlite"
)

// Token is the API token of the brokers New builds.
const Token = "test-token"

// New starts a broker on node ports of ports (a block of testkit's ranges
// the calling package owns); tweak, when not nil, adjusts its Config first.
// It skips the test when no engine is installed.
func New(t testing.TB, ports testkit.Range, tweak func(*broker.Config)) *broker.Broker {
	t.Helper()
	return newOn(t, ports, nil, tweak)
}

// On starts a broker on st, which the caller closes after the test's
// cleanups of the broker (register it first): several brokers on one store
// (each its own local host, id and coordinator lease round), or on one
// store each over the same file, as broker processes would be.
func On(t testing.TB, ports testkit.Range, st store.Store, tweak func(*broker.Config)) *broker.Broker {
	t.Helper()
	return newOn(t, ports, st, tweak)
}

// newOn starts a broker on st, or on a SQLite file of its own (closed with
// the test) when st is nil.
func newOn(t testing.TB, ports testkit.Range, st store.Store, tweak func(*broker.Config)) *broker.Broker {
	t.Helper()
	eng, err := engine.Discover()
	if err != nil {
		t.Skipf("no engine: %v", err)
	}
	ctx := context.Background()
	root := t.TempDir()
	own := st == nil
	if own {
		if st, err = sqlite.Open(ctx, filepath.Join(root, "larder.db")); err != nil {
			t.Fatal(err)
		}
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	var br atomic.Pointer[broker.Broker]
	host, err := local.New(local.Options{Root: filepath.Join(root, "nodes"), Engine: eng, Log: log,
		CheckInterval: 100 * time.Millisecond, OnEvent: func(e provisioner.Event) {
			if b := br.Load(); b != nil {
				b.Hosts.OnNodeEvent(e)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := broker.Config{Token: Token, PortMin: ports.Lo, PortMax: ports.Hi, Log: log,
		ReconcileInterval: 100 * time.Millisecond, StandbyGrace: time.Hour}
	if tweak != nil {
		tweak(&cfg)
	}
	b, err := broker.New(cfg, st, host)
	if err != nil {
		t.Fatal(err)
	}
	br.Store(b)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b.Close(cctx)
		host.Close(cctx)
		if own {
			st.Close()
		}
		pids, _ := filepath.Glob(filepath.Join(root, "nodes", "*", "node.pid"))
		for _, f := range pids {
			if data, err := os.ReadFile(f); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	return b
}
