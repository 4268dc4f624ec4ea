package pairs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"larder/broker/hostset"
	"larder/broker/jobs"
	"larder/engine"
	"larder/provisioner"
	"larder/provisioner/local"
	"larder/store"
	"larder/store/sqlite"
)

// failingLookup is a store that cannot answer, as under SQLITE_BUSY.
type failingLookup struct{}

var errBusy = errors.New("database is locked (SQLITE_BUSY)")

func (failingLookup) NodeByName(context.Context, string) (store.Node, error) {
	return store.Node{}, errBusy
}
func (failingLookup) NodeByID(context.Context, string) (store.Node, error) {
	return store.Node{}, errBusy
}

// orphanEnv is a broker's pairs over a real store and a real local host,
// with a node running on the host that the store has never known.
func orphanEnv(t *testing.T) (b *Pairs, h *local.Host, orphan provisioner.Node, dataDir string) {
	t.Helper()
	eng, err := engine.Discover()
	if err != nil {
		t.Skipf("no engine: %v", err)
	}
	ctx := context.Background()
	dataDir = t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "larder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := logrus.New()
	log.SetOutput(io.Discard)
	h, err = local.New(local.Options{Root: filepath.Join(dataDir, "nodes"), Engine: eng, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	runner := jobs.New(jobs.Config{Log: log, Store: st, Owner: "me", Lease: time.Minute})
	t.Cleanup(func() { runner.Close(context.Background()) })
	b = New(Config{LocalHost: h.Name(), ReconcileInterval: time.Second}, Deps{Store: st, Hosts: hostset.New(h), Jobs: runner, Log: log})
	pw := func() string {
		p := make([]byte, 16)
		rand.Read(p)
		return hex.EncodeToString(p)
	}
	spec := provisioner.NodeSpec{ID: "id-gone", Name: "redis-gone-1", Port: loopbackPort(t), MaxClients: 5, Persistence: true,
		Admin: engine.User{Password: pw()}, Customer: engine.User{Password: pw()}}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if orphan, err = h.Start(sctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(orphan.PID, syscall.SIGKILL) })
	return b, h, orphan, dataDir
}

// loopbackPort is a port nothing listens on right now.
func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && syscall.Kill(pid, 0) == nil && !isZombie(stat)
}

func isZombie(stat []byte) bool {
	for i := len(stat) - 1; i > 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] == 'Z'
		}
	}
	return false
}

func TestOrphansOnlyOnPositiveEvidence(t *testing.T) {
	b, h, orphan, dataDir := orphanEnv(t)
	ctx := context.Background()
	sweep := func() {
		st, err := h.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b.recon.removeOrphans(ctx, map[string]provisioner.HostStatus{h.Name(): st}, map[string]bool{})
	}
	quarantine := filepath.Join(dataDir, "quarantine")

	// The store cannot answer: that proves nothing, and nothing is touched.
	b.recon.lookup = failingLookup{}
	sweep()
	if !alive(orphan.PID) {
		t.Errorf("node %d stopped although the store never said it was unknown", orphan.PID)
	}
	if _, err := os.Stat(orphan.Dir); err != nil {
		t.Errorf("node dir after a failed lookup: %v, want it in place", err)
	}

	// The store answers that it does not know the node: it is an orphan,
	// stopped and moved to quarantine with its data, not deleted.
	b.recon.lookup = b.store
	sweep()
	if alive(orphan.PID) {
		t.Errorf("orphan %d still runs", orphan.PID)
	}
	if _, err := os.Stat(orphan.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphan dir: %v, want it moved to quarantine", err)
	}
	entries, err := os.ReadDir(quarantine)
	if err != nil || len(entries) != 1 {
		t.Fatalf("quarantine = %v, %v; want the orphan's directory", entries, err)
	}
	if _, err := os.Stat(filepath.Join(quarantine, entries[0].Name(), "appendonlydir")); err != nil {
		t.Errorf("quarantined orphan without its data: %v", err)
	}
}
