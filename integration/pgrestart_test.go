package integration

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"larder/api"
	"larder/fault"
	"larder/internal/backoff"
	"larder/internal/pgtest"
)

// TestPostgresRestartedUnderLoad (issue 16): two brokers on a PostgreSQL
// cluster of the test's own, agents on two hosts, and a load of add-on
// creations — through the API and through `larder addons:create --wait` on
// either broker — credential rotations of one add-on and switchovers of a
// pair, while PostgreSQL is restarted twice. Then: both brokers
// serve again; every operation the API accepted ended (succeeded, or was
// rolled back saying why), was recorded once and run by one broker; every request that failed during an
// outage said the store cannot be reached (a 503, never an internal error,
// never the store's password); every add-on created is there once and its
// node answers a real client.
func TestPostgresRestartedUnderLoad(t *testing.T) {
	pg := pgtest.Own(t)
	storeURL := strings.Replace(pg.URL("postgres"), "postgres@", "postgres:"+pgSecret+"@", 1)
	// The leases are larder's defaults (10 s, 15 s): a restart of
	// PostgreSQL takes a second or two, well within them.
	env := []string{"LARDER_STORE_URL=" + storeURL, "LARDER_RECONCILE_INTERVAL=200ms"}
	b1 := NewBroker(t, append([]string{"LARDER_NO_LOCAL_NODES=1"}, env...)...)
	b1.StartAgent("h1")
	b1.StartAgent("h2")
	b2 := sharingBroker(t, b1, env[1:]...)
	brokers := []*Broker{b1, b2}
	coordinates(t, b2, b1)

	const apiWorkers, cliWorkers, maxCreated, maxTries = 3, 1, 5, 40
	rec := &loadRecord{ops: map[string]string{}, created: map[string][]string{}, attempts: map[string]int{}}
	apps := make([]string, apiWorkers+cliWorkers)
	for i := range apps {
		apps[i] = fmt.Sprintf("load%d", i)
		b1.MustLarder("apps:create", apps[i])
	}
	// One add-on has its credentials rotated over and over meanwhile, and
	// a pair is switched over and back.
	b1.MustLarder("apps:create", "rotated")
	b1.MustLarder("addons:create", "larder-redis:mini", "-a", "rotated", "--wait")
	b1.MustLarder("apps:create", "pair")
	b1.MustLarder("addons:create", "larder-redis:premium-0", "-a", "pair", "--wait")
	waitInSync(t, b1, "pair", nil)
	rec.attempts["rotated"], rec.attempts["pair"] = 1, 1
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		rotate(brokers, "rotated", rec, stop)
	}()
	go func() {
		defer wg.Done()
		switchOver(brokers, "pair", rec, stop)
	}()
	for w, app := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A client told to try again in a moment does, a little later.
			pause := backoff.Backoff{Policy: backoff.Policy{Min: 50 * time.Millisecond, Max: 400 * time.Millisecond}}
			created := 0
			for i := 0; i < maxTries && created < maxCreated; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := brokers[(w+i)%2]
				rec.mu.Lock()
				rec.attempts[app]++
				rec.mu.Unlock()
				ok := false
				if w < apiWorkers {
					ok = createThroughAPI(b, app, rec)
				} else {
					ok = createThroughCLI(b, app, rec)
				}
				if ok {
					created++
					pause.Reset()
				} else if backoff.Wait(context.Background(), pause.Next()) != nil {
					return
				}
			}
		}()
	}

	// PostgreSQL restarts twice, each time once the load has moved on
	// since the last (so operations are under way when it goes).
	for round := range 3 {
		before := rec.count()
		WaitFor(t, 40*time.Second, fmt.Sprintf("operations accepted after %d restarts", round), func() error {
			if n := rec.count(); n < before+2 {
				return fmt.Errorf("%d accepted", n)
			}
			return nil
		})
		if round == 2 {
			break
		}
		restarted := time.Now()
		if err := pg.Restart(); err != nil {
			t.Fatalf("restart PostgreSQL: %v", err)
		}
		for _, b := range brokers {
			WaitFor(t, 20*time.Second, "the broker to read the store again", func() error {
				_, err := b.Client().Addons(context.Background(), apps[0])
				return err
			})
		}
		t.Logf("restart %d: both brokers serve %s after PostgreSQL was asked to restart", round+1, time.Since(restarted).Round(time.Millisecond))
	}
	close(stop)
	wg.Wait()

	checkOperationsEnded(t, b2, storeURL, rec)
	checkResumedOnce(t, brokers)
	checkFailuresAreClear(t, rec)
	checkAddonsServe(t, b1, append(apps, "rotated", "pair"), rec)
	waitInSync(t, b1, "pair", nil)
	for i, b := range brokers {
		logs := b.logs.String()
		if strings.Contains(logs, pgSecret) {
			t.Errorf("a broker's log shows the store's password")
		}
		begun, ended := strings.Count(logs, "coordinating: this broker holds"), strings.Count(logs, "no longer coordinating")
		t.Logf("broker %d: %d tenures begun, %d ended; %d operations resumed in place after an outage", i+1,
			begun, ended, strings.Count(logs, "the store answers again; resuming the operation"))
		// The coordinator keeps its tenure through outages shorter than
		// its lease; the other never coordinates.
		if want := map[int]int{0: 1, 1: 0}[i]; begun != want || ended != 0 {
			t.Errorf("broker %d began %d tenures and ended %d; want %d and none ended", i+1, begun, ended, want)
		}
	}
}

// checkOperationsEnded: every accepted operation succeeded (or, for a
// change cut short before its commit, was rolled back saying the store could
// not be reached), no operation in the store is left unfinished, and no
// add-on's provisioning was recorded twice.
func checkOperationsEnded(t *testing.T, b *Broker, storeURL string, rec *loadRecord) {
	t.Helper()
	ctx := context.Background()
	for id, addon := range rec.ops {
		var op api.Operation
		WaitFor(t, 60*time.Second, "operation "+id+" to end", func() (err error) {
			op, err = b.Client().Operation(ctx, id)
			if err == nil && !op.Done() {
				err = fmt.Errorf("%s: %s", op.State, op.Progress)
			}
			return err
		})
		if op.State != api.OpSucceeded && !storeWasAway(op.Error) {
			t.Errorf("operation %s (%s of %s) %s: %s", id, op.Kind, addon, op.State, op.Error)
		}
	}
	conn, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	WaitFor(t, 60*time.Second, "no operation left unfinished in the store", func() error {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM operations WHERE state NOT IN ('succeeded', 'failed')`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d unfinished", n)
		}
		return nil
	})
	for _, q := range []struct{ what, query string }{
		{"provision operation", `SELECT addon_id FROM operations WHERE kind = 'provision' GROUP BY addon_id HAVING count(*) > 1`},
		{"addon.provisioned event", `SELECT addon_id FROM events WHERE kind = 'addon.provisioned' GROUP BY addon_id HAVING count(*) > 1`},
	} {
		var twice int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM (`+q.query+`) t`).Scan(&twice); err != nil {
			t.Fatal(err)
		}
		if twice > 0 {
			t.Errorf("%d add-ons have more than one %s", twice, q.what)
		}
	}
}

// checkResumedOnce: no broker died, so an operation resumed at all was
// resumed by one broker only, and once.
func checkResumedOnce(t *testing.T, brokers []*Broker) {
	t.Helper()
	addonField := regexp.MustCompile(`addon=(\S+)`)
	seen := map[string]int{}
	for _, b := range brokers {
		for _, line := range strings.Split(b.logs.String(), "\n") {
			if strings.Contains(line, "resuming operation") {
				if m := addonField.FindStringSubmatch(line); m != nil {
					seen[m[1]]++
				}
			}
		}
	}
	for addon, n := range seen {
		if n > 1 {
			t.Errorf("the operation of %s was resumed %d times", addon, n)
		}
	}
	t.Logf("operations resumed: %v", seen)
}

// storeWasAway reports whether msg says clearly the store could not be
// reached (at once, or during a change that was rolled back for it).
func storeWasAway(msg string) bool {
	return strings.Contains(msg, "cannot reach the store") || strings.Contains(msg, "the store could not be reached")
}

// checkFailuresAreClear: a request that failed during an outage says the
// store cannot be reached, as a 503 (or, for a rotation asked for while the
// previous one finishes, that it is under way) — never an internal error,
// never a secret.
func checkFailuresAreClear(t *testing.T, rec *loadRecord) {
	t.Helper()
	t.Logf("%d operations accepted, %d requests failed", len(rec.ops), len(rec.failures))
	for _, f := range rec.failures {
		t.Logf("failed: %s: [%s] %s", f.what, f.kind, f.message)
		switch {
		case strings.Contains(f.message, pgSecret):
			t.Errorf("%s: the error shows the store's password: %s", f.what, f.message)
		case f.kind == fault.Conflict && strings.Contains(f.message, "under way"):
			// A rotation whose answer the outage cut short goes on: the
			// next one is told to wait for it.
		case f.kind != fault.Unavailable, !storeWasAway(f.message):
			t.Errorf("%s: [%s] %s; want a clear \"cannot reach the store\" (503)", f.what, f.kind, f.message)
		}
	}
}

// checkAddonsServe: every add-on whose creation succeeded is there, none is
// there twice, no app has more than it asked for, and each one's node
// answers a real client through its URL.
func checkAddonsServe(t *testing.T, b *Broker, apps []string, rec *loadRecord) {
	t.Helper()
	ctx := context.Background()
	all := map[string]bool{}
	for _, app := range apps {
		addons, err := b.Client().Addons(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, a := range addons {
			if all[a.Name] {
				t.Errorf("add-on %s listed twice", a.Name)
			}
			all[a.Name], have[a.Name] = true, true
		}
		for _, name := range rec.created[app] {
			if !have[name] {
				t.Errorf("%s: add-on %s was created, but is not there", app, name)
			}
		}
		if len(addons) > rec.attempts[app] {
			t.Errorf("%s has %d add-ons for %d creations asked for", app, len(addons), rec.attempts[app])
		}
		for _, a := range addons {
			cred, err := b.Client().Credentials(ctx, app, a.Name)
			if err != nil {
				t.Errorf("credentials of %s: %v", a.Name, err)
				continue
			}
			c := redisClient(t, cred.URL)
			WaitFor(t, 20*time.Second, a.Name+" to answer", func() error {
				return c.Set(ctx, "k", a.Name, 0).Err()
			})
			if v, err := c.Get(ctx, "k").Result(); err != nil || v != a.Name {
				t.Errorf("%s: GET k = %q, %v", a.Name, v, err)
			}
		}
	}
}
