package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
)

// readySpares is the number of started spares the broker reports.
func readySpares(t *testing.T, b *Broker) int {
	t.Helper()
	hosts, err := b.Client().Hosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range hosts {
		n += h.Spares
	}
	return n
}

func waitSpares(t *testing.T, b *Broker, want int) {
	t.Helper()
	WaitFor(t, 20*time.Second, fmt.Sprintf("%d spare(s) ready", want), func() error {
		if got := readySpares(t, b); got != want {
			return fmt.Errorf("%d spare(s) ready", got)
		}
		return nil
	})
}

// A spare is handed over whole: addons:create answers with a provisioned
// add-on and no operation, the app's URL serves an empty database with its own
// password, the spare is replaced, and spares never show as apps or add-ons.
func TestSparesAreHandedOverAtOnce(t *testing.T) {
	b := NewBroker(t, "LARDER_SPARES=1")
	ctx := context.Background()
	cl := b.Client()
	b.MustLarder("apps:create", "web")
	waitSpares(t, b, 1)

	res, err := cl.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:mini"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Operation != nil || res.Addon.State != api.StateProvisioned {
		t.Fatalf("create with a spare ready = state %s, operation %+v; want provisioned at once, no operation", res.Addon.State, res.Operation)
	}
	vars, err := cl.ConfigVars(ctx, "web")
	if err != nil || vars["REDIS_URL"] == "" {
		t.Fatalf("config vars = %v, %v; want REDIS_URL", vars, err)
	}
	opt, err := redis.ParseURL(vars["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	if n, err := rc.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("DBSIZE of a handed-over spare = %d, %v; want an empty database", n, err)
	}
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through REDIS_URL: %v", err)
	}

	// The pool refills, and the next request gets the new spare under the
	// name it asks for, with a password of its own.
	waitSpares(t, b, 1)
	r := b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--name", "redis-second", "--wait")
	if strings.Contains(r.Stderr, "Waiting for") {
		t.Errorf("create with a spare ready waited for provisioning:\n%s", r.Stderr)
	}
	vars, _ = cl.ConfigVars(ctx, "web")
	second := vars["LARDER_REDIS_AMBER_URL"]
	if second == "" || second == vars["REDIS_URL"] {
		t.Fatalf("second add-on's URL = %q (first %q); want its own", second, vars["REDIS_URL"])
	}
	opt2, _ := redis.ParseURL(second)
	if opt2.Password == opt.Password {
		t.Fatal("two handed-over spares share a password")
	}
	rc2 := redis.NewClient(opt2)
	defer rc2.Close()
	if n, err := rc2.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("the second add-on sees the first's key: %d, %v", n, err)
	}
	if _, err := cl.Addon(ctx, "web", "redis-second"); err != nil {
		t.Fatalf("the add-on named redis-second: %v", err)
	}

	apps := b.MustLarder("apps").Stdout
	all := b.MustLarder("addons").Stdout
	if strings.Contains(apps, "spares") || strings.Contains(all, "spares") || strings.Count(all, "larder-redis (") != 2 {
		t.Errorf("spares show to users:\n%s\n%s", apps, all)
	}
	// Two requests racing for one spare both get an add-on of their own.
	waitSpares(t, b, 1)
	results := make(chan api.AddonResult, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			r, err := cl.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:mini"})
			results <- r
			errs <- err
		}()
	}
	handed := 0
	names := map[string]bool{}
	for range 2 {
		r, err := <-results, <-errs
		if err != nil {
			t.Fatalf("racing create: %v", err)
		}
		if r.Operation == nil {
			handed++
		}
		names[r.Addon.Name] = true
	}
	if handed == 0 || len(names) != 2 {
		t.Fatalf("two racing creates: %d handed over, names %v; want at least one spare handed over, two add-ons", handed, names)
	}
	// A request with options provisions as before.
	res, err = cl.CreateAddon(ctx, "web", api.AddonCreate{Plan: "larder-redis:mini", Config: map[string]string{"maxmemory_policy": "allkeys-lru"}})
	if err != nil || res.Operation == nil {
		t.Fatalf("create with a policy = %+v, %v; want a provision operation", res, err)
	}
}

// Spares survive a broker restart (adopted, not doubled), and a broker
// started with --spares 0 removes them.
func TestSparesAcrossRestarts(t *testing.T) {
	b := NewBroker(t, "LARDER_SPARES=1")
	waitSpares(t, b, 1)
	pids := nodePIDs(b.DataDir)
	if len(pids) != 1 {
		t.Fatalf("node processes with one spare: %v", pids)
	}
	b.Stop()
	b.Start()
	waitSpares(t, b, 1)
	if again := nodePIDs(b.DataDir); len(again) != 1 || again[0] != pids[0] {
		t.Fatalf("after a restart: node processes %v, want the same spare %v", again, pids)
	}

	// Draining the host removes its spare (it holds no one's data, and
	// moves nothing); undraining it brings one back.
	if r := b.Larder("hosts:drain", "local"); r.Code != 0 {
		t.Fatalf("hosts:drain with a spare on the host: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	WaitFor(t, 20*time.Second, "the drained host's spare to be removed", func() error {
		if processAlive(pids[0]) {
			return fmt.Errorf("spare still running")
		}
		return nil
	})
	b.MustLarder("hosts:undrain", "local")
	waitSpares(t, b, 1)
	pids = nodePIDs(b.DataDir)

	b.Stop()
	b.extra = append(b.extra, "LARDER_SPARES=0")
	b.Start()
	WaitFor(t, 20*time.Second, "the spare to be removed", func() error {
		if processAlive(pids[0]) || readySpares(t, b) != 0 {
			return fmt.Errorf("spare still running")
		}
		return nil
	})
}
