package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/fault"
	"larder/internal/testkit"
)

// feedBroker starts a real broker (tweak adjusts its config) behind this
// package's handler on loopback, and returns it with a client of it.
func feedBroker(t *testing.T, tweak func(*broker.Config)) (*broker.Broker, *api.Client) {
	t.Helper()
	b := brokertest.New(t, testkit.HTTPAPI, tweak)
	srv := httptest.NewServer(New(b).Handler())
	t.Cleanup(srv.Close)
	return b, api.NewClient(srv.URL, brokertest.Token)
}

// TestFeedLongPolls: an operation's long-poll and an app's changes answer
// as soon as something changes, and at the wait's end with nothing new;
// bad input gets a clear error.
func TestFeedLongPolls(t *testing.T) {
	b, c := feedBroker(t, nil)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	head, err := c.Changes(ctx, "web", -1, 0)
	if err != nil || len(head.Changes) != 0 {
		t.Fatalf("head: %+v, %v", head, err)
	}

	// Nothing changes: the wait ends with nothing and the same cursor.
	quiet, err := c.Changes(ctx, "web", head.Cursor, 50*time.Millisecond)
	if err != nil || len(quiet.Changes) != 0 || quiet.Cursor != head.Cursor {
		t.Fatalf("quiet wait: %+v, %v", quiet, err)
	}

	// A change wakes a waiter long before its 30 s.
	got := make(chan api.ChangeBatch, 1)
	errc := make(chan error, 1)
	go func() {
		b, err := c.Changes(ctx, "web", head.Cursor, 30*time.Second)
		if err != nil {
			errc <- err
			return
		}
		got <- b
	}()
	testkit.WaitFor(t, 10*time.Second, func() error {
		if b.Changes.Waiters() != 1 {
			return fmt.Errorf("%d waiters", b.Changes.Waiters())
		}
		return nil
	})
	greeting := "hi"
	if _, err := c.PatchConfigVars(ctx, "web", api.ConfigPatch{"GREETING": &greeting}); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if len(b.Changes) != 1 || b.Changes[0].Kind != api.ChangeConfig || b.Changes[0].Subject != "GREETING" || b.Cursor != b.Changes[0].Seq {
			t.Fatalf("woken with %+v", b)
		}
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("the waiter was not woken by the change")
	}

	// An operation: the long-poll answers when it is done.
	if _, err := c.CreateApp(ctx, "jobs"); err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateAddon(ctx, "jobs", api.AddonCreate{Plan: "larder-redis:mini"})
	if err != nil {
		t.Fatal(err)
	}
	var seen time.Time
	for i := 0; i < 100; i++ { // each answer is a change; a mini's provision has a few
		op, err := c.OperationAfter(ctx, res.Operation.ID, seen, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if op.Done() {
			if op.State != api.OpSucceeded {
				t.Fatalf("provision: %+v", op)
			}
			break
		}
		if !seen.IsZero() && op.UpdatedAt.Equal(seen) {
			t.Fatalf("answered with nothing new before the wait's end: %+v", op)
		}
		seen = op.UpdatedAt
	}
	// Done already: answered at once, whatever the wait.
	if op, err := c.OperationAfter(ctx, res.Operation.ID, time.Time{}, 30*time.Second); err != nil || !op.Done() {
		t.Fatalf("done operation: %+v, %v", op, err)
	}

	// Bad input.
	checkBadGets(t, c, []badGet{
		{"/operations/nope?wait=1s", fault.NotFound, "nope"},
		{"/apps/web/changes?cursor=abc", fault.Invalid, "cursor"},
		{"/apps/web/changes?cursor=-4", fault.Invalid, "cursor"},
		{"/apps/web/changes?cursor=99999999", fault.Invalid, "ahead"},
		{"/apps/web/changes?wait=soon", fault.Invalid, "wait"},
		{"/operations/" + res.Operation.ID + "?wait=-1s", fault.Invalid, "wait"},
		{"/operations/" + res.Operation.ID + "?wait=1s&since=yesterday", fault.Invalid, "since"},
		{"/apps/nope/changes", fault.NotFound, "nope"},
	})
	if n := b.Changes.Waiters(); n != 0 {
		t.Errorf("%d waiters left", n)
	}
}

// TestFeedWaitersDroppedAtOnce: a thousand clients wait on the feed and all
// go at once; the broker keeps serving and keeps no goroutine of theirs.
// Past the cap, a waiter is refused with 429 and a clear message.
func TestFeedWaitersDroppedAtOnce(t *testing.T) {
	const limit = 1000
	b, c := feedBroker(t, func(cfg *broker.Config) { cfg.MaxWaiters = limit })
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: -1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	url := c.BaseURL + "/apps/web/changes?wait=30s"
	before := runtime.NumGoroutine()

	const n = limit
	var wg sync.WaitGroup
	// startWaiters sends n requests that wait on the feed until ctx ends,
	// and returns once the broker counts them all.
	startWaiters := func(ctx context.Context, n int) {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+brokertest.Token)
				if resp, err := hc.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		testkit.WaitFor(t, 60*time.Second, func() error {
			if w := b.Changes.Waiters(); w != n {
				return fmt.Errorf("%d of %d waiting", w, n)
			}
			return nil
		})
	}
	wctx, drop := context.WithCancel(ctx)
	startWaiters(wctx, n)
	drop()
	wg.Wait()
	tr.CloseIdleConnections()
	testkit.WaitFor(t, 30*time.Second, func() error {
		if w := b.Changes.Waiters(); w != 0 {
			return fmt.Errorf("%d waiters left", w)
		}
		// A few goroutines come and go with the broker's own work; a
		// thousand waiters' would be far more than this slack.
		if g := runtime.NumGoroutine(); g > before+50 {
			return fmt.Errorf("%d goroutines, %d before the waiters", g, before)
		}
		return nil
	})
	if _, err := c.Apps(ctx); err != nil {
		t.Fatalf("the broker stopped serving: %v", err)
	}

	// The cap: the token holds limit waiters; the next is refused at once
	// with 429, and a read that does not wait is still served.
	wctx, drop = context.WithCancel(ctx)
	defer drop()
	startWaiters(wctx, n)
	_, err := c.Changes(ctx, "web", -1, 30*time.Second)
	if fault.KindOf(err) != fault.TooMany || !strings.Contains(err.Error(), "too many waiting requests") {
		t.Errorf("past the cap: %v, want too many waiting requests", err)
	}
	if _, err := c.Changes(ctx, "web", -1, 0); err != nil {
		t.Errorf("a read that does not wait, at the cap: %v", err)
	}
	drop()
	wg.Wait()
}

// badGet is a GET the API must refuse with kind, in a message saying msg.
type badGet struct {
	path string
	kind fault.Kind
	msg  string
}

func checkBadGets(t *testing.T, c *api.Client, bad []badGet) {
	t.Helper()
	for _, b := range bad {
		err := c.Do(context.Background(), http.MethodGet, b.path, nil, nil)
		if fault.KindOf(err) != b.kind || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("GET %s: %v, want %s saying %q", b.path, err, b.kind, b.msg)
		}
	}
}

// miniOn creates app with a mini add-on and waits until it is provisioned.
func miniOn(t *testing.T, c *api.Client, app string) api.Addon {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateAddon(ctx, app, api.AddonCreate{Plan: "larder-redis:mini"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Operation != nil {
		if _, err := c.WaitOperation(ctx, res.Operation.ID, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	return res.Addon
}
