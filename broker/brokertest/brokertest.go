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
	"larder/store/sqlite"
)

// Token is the API token of the brokers New builds.
const Token = "test-token"

// New starts a broker on node ports of ports (a block of testkit's ranges
// the calling package owns); tweak, when not nil, adjusts its Config first.
// It skips the test when no engine is installed.
func New(t testing.TB, ports testkit.Range, tweak func(*broker.Config)) *broker.Broker {
	t.Helper()
	eng, err := engine.Discover()
	if err != nil {
		t.Skipf("no engine: %v", err)
	}
	ctx := context.Background()
	root := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(root, "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	var br atomic.Pointer[broker.Broker]
	host, err := local.New(local.Options{Root: filepath.Join(root, "nodes"), Engine: eng, Log: log,
		CheckInterval: 100 * time.Millisecond, OnEvent: func(e provisioner.Event) {
			if b := br.Load(); b != nil {
				b.Hosts.OnNodeEvent(context.Background(), e)
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
		st.Close()
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
