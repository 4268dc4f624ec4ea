package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/internal/pgtest"
)

// TestBrokerOnPostgres: the real binary with --store postgres://… runs the
// whole life of an add-on on PostgreSQL — created with --wait, its URL in
// the app's config, data in and out — and a restarted broker finds
// everything (the schema is not applied twice, the node is adopted). The
// URL's password never reaches the broker's log.
func TestBrokerOnPostgres(t *testing.T) {
	u := strings.Replace(pgtest.URL(t), "postgres@", "postgres:pg-s3cret@", 1) // the test server trusts any password
	b := NewBroker(t, "LARDER_STORE_URL="+u)
	ctx := context.Background()
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	url := configVars(t, b, "web")["REDIS_URL"]
	if url == "" {
		t.Fatal("no REDIS_URL in the app's config")
	}
	if err := redisClient(t, url).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("write: %v", err)
	}
	b.Stop()
	if _, err := os.Stat(filepath.Join(b.DataDir, "larder.db")); err == nil {
		t.Errorf("a SQLite file was made beside a PostgreSQL store")
	}
	b.Start()
	if got := configVars(t, b, "web")["REDIS_URL"]; got != url {
		t.Fatalf("REDIS_URL after restart %q, want %q", got, url)
	}
	if v, err := redisClient(t, url).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("read after restart: %q, %v", v, err)
	}
	if out := b.MustLarder("addons", "-a", "web").Stdout; !strings.Contains(out, "redis-") {
		t.Fatalf("addons after restart:\n%s", out)
	}
	if strings.Contains(b.logs.String(), "pg-s3cret") {
		t.Fatalf("the broker's log shows the store's password")
	}
}

// TestBrokerStoreURLIsChecked: a --store that is no PostgreSQL URL stops
// the broker at once with a usage error that hides the password.
func TestBrokerStoreURLIsChecked(t *testing.T) {
	for _, bad := range []string{"mysql://root:pg-s3cret@db/larder", "postgres://root:pg-s3cret@127.0.0.1:1/larder?connect_timeout=2"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, larderBin, "broker", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--store", bad)
		cmd.Env = baseEnv(t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("--store %s: the broker ran and exited 0", bad)
		}
		if strings.Contains(string(out), "pg-s3cret") {
			t.Fatalf("--store %s: the error shows the password:\n%s", bad, out)
		}
		if !strings.Contains(string(out), "store") {
			t.Fatalf("--store %s: the error does not name the store:\n%s", bad, out)
		}
	}
}
