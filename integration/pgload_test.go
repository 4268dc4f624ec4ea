package integration

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"larder/api"
	"larder/fault"
	"larder/internal/backoff"
)

// The load of TestPostgresRestartedUnderLoad: what it records, and the
// clients that make it.

// pgSecret is the password in the store URL of the restart test: the test
// cluster trusts any password, so it must show up nowhere.
const pgSecret = "pg-r3start-s3cret"

// failure is a request that failed: what it was, its error kind (the
// CLI's: what it printed) and message.
type failure struct {
	what    string
	kind    fault.Kind
	message string
}

// loadRecord is what the load of TestPostgresRestartedUnderLoad saw: the
// operations the API accepted, the add-ons whose creation was answered with
// a success, and every request that failed.
type loadRecord struct {
	mu       sync.Mutex
	ops      map[string]string   // accepted operation id → add-on name
	created  map[string][]string // app → add-ons whose creation succeeded
	attempts map[string]int      // app → creations asked for
	failures []failure           // every failed request
	accepted int                 // operations accepted so far
}

func (l *loadRecord) accept(app, opID, addon string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops[opID] = addon
	l.accepted++
}

func (l *loadRecord) fail(f failure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, f)
}

func (l *loadRecord) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

// createThroughAPI asks b for a mini add-on of app and follows its
// operation to the end, recording what happened; it reports whether the
// creation was accepted.
func createThroughAPI(b *Broker, app string, rec *loadRecord) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := b.Client()
	res, err := c.CreateAddon(ctx, app, api.AddonCreate{Plan: "larder-redis:mini"})
	if err != nil {
		rec.fail(failure{"create on " + b.URL, fault.KindOf(err), err.Error()})
		return false
	}
	if res.Operation == nil {
		rec.fail(failure{"create on " + b.URL, fault.Internal, "accepted with no operation"})
		return false
	}
	rec.accept(app, res.Operation.ID, res.Addon.Name)
	rec.mu.Lock()
	rec.created[app] = append(rec.created[app], res.Addon.Name)
	rec.mu.Unlock()
	if _, err := c.WaitOperation(ctx, res.Operation.ID, 0, nil); err != nil {
		rec.fail(failure{"wait on " + b.URL, fault.KindOf(err), err.Error()})
	}
	return true
}

// keepAsking sends ask to either broker in turn until stop, at most max
// times, recording the requests that failed as what; after a failure it
// pauses a little, as a client told to try again in a moment would.
func keepAsking(brokers []*Broker, max int, stop <-chan struct{}, rec *loadRecord, what string, ask func(ctx context.Context, b *Broker) error) {
	pause := backoff.Backoff{Policy: backoff.Policy{Min: 50 * time.Millisecond, Max: 400 * time.Millisecond}}
	for i := range max {
		select {
		case <-stop:
			return
		default:
		}
		b := brokers[i%2]
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := ask(ctx, b)
		cancel()
		if err == nil {
			pause.Reset()
			continue
		}
		rec.fail(failure{what + " on " + b.URL, fault.KindOf(err), err.Error()})
		if backoff.Wait(context.Background(), pause.Next()) != nil {
			return
		}
	}
}

// rotate rotates app's credentials until stop.
func rotate(brokers []*Broker, app string, rec *loadRecord, stop <-chan struct{}) {
	keepAsking(brokers, 40, stop, rec, "rotation", func(ctx context.Context, b *Broker) error {
		_, err := b.Client().RotateCredentials(ctx, app, "REDIS")
		return err
	})
}

// switchOver switches app's pair over until stop, following each
// switchover to its end.
func switchOver(brokers []*Broker, app string, rec *loadRecord, stop <-chan struct{}) {
	keepAsking(brokers, 10, stop, rec, "switchover", func(ctx context.Context, b *Broker) error {
		res, err := b.Client().Failover(ctx, app, "REDIS")
		if err != nil || res.Operation == nil {
			return err
		}
		rec.accept(app, res.Operation.ID, res.Addon.Name)
		_, err = b.Client().WaitOperation(ctx, res.Operation.ID, 0, nil)
		return err
	})
}

// createNamed finds the add-on name `addons:create` printed.
var createNamed = regexp.MustCompile(`\b(redis-[a-z]+-[0-9]+)\b`)

// createThroughCLI runs `larder addons:create --wait` against b; it reports
// whether it succeeded.
func createThroughCLI(b *Broker, app string, rec *loadRecord) bool {
	r := b.Larder("addons:create", "larder-redis:mini", "-a", app, "--wait")
	if r.Code != 0 {
		kind := fault.Unavailable
		if strings.Contains(r.Stderr, "internal") {
			kind = fault.Internal
		}
		rec.fail(failure{"addons:create --wait on " + b.URL, kind, fmt.Sprintf("exit %d: %s", r.Code, strings.TrimSpace(r.Stderr))})
		return false
	}
	if m := createNamed.FindStringSubmatch(r.Stdout + r.Stderr); m != nil {
		rec.mu.Lock()
		rec.created[app] = append(rec.created[app], m[1])
		rec.mu.Unlock()
	}
	return true
}
