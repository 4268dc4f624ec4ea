package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/internal/httpjson"
	"larder/internal/testkit"
	"larder/store"
)

// TestListingShowsEveryChange: a kept listing is never served after a
// change it shows, whoever made the change (here straight in the store,
// as another broker sharing it would), in either view, for every add-on
// and for an app's, on both stores.
func TestListingShowsEveryChange(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) { listingShowsEveryChange(t, s.open(t)) })
	}
}

func listingShowsEveryChange(t *testing.T, b *broker.Broker) {
	srv := httptest.NewServer(New(b).Handler())
	t.Cleanup(srv.Close)
	st, ctx := b.Store(), context.Background()

	web, err := st.CreateApp(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	other, err := st.CreateApp(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	var a, last store.Addon
	check := func(step string) {
		t.Helper()
		for _, app := range []string{"", "web", "api"} {
			var want []api.Addon
			if app == "" {
				want, err = b.Addons.ListAddons(ctx)
			} else {
				want, err = b.Addons.ListAppAddons(ctx, app)
			}
			if err != nil {
				t.Fatalf("%s: list %q: %v", step, app, err)
			}
			for view, v := range map[string]any{"": want, "?view=full": want, "?view=summary": api.Summaries(want, app)} {
				path := "/addons" + view
				if app != "" {
					path = "/apps/" + app + "/addons" + view
				}
				wantBody, err := httpjson.Encode(v, view == "?view=summary")
				if err != nil {
					t.Fatal(err)
				}
				code, got, h := get(t, srv.URL+path)
				if code != http.StatusOK || !bytes.Equal(got, wantBody) {
					t.Fatalf("%s: GET %s = %d\n%s\nwant what the store holds now:\n%s", step, path, code, got, wantBody)
				}
				if n := h.Get(httpjson.CountHeader); n != strconv.Itoa(len(want)) {
					t.Fatalf("%s: GET %s counts %q add-ons, lists %d", step, path, n, len(want))
				}
			}
		}
	}
	steps := []struct {
		name   string
		change func() error
	}{
		{"nothing yet", func() error { return nil }},
		{"an add-on created", func() error {
			return st.InTx(ctx, func(tx store.Tx) error {
				a = store.Addon{Name: "redis-one", Service: "larder-redis", Plan: "mini", AppID: web.ID, State: api.StateProvisioning,
					MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
				if err := tx.CreateAddon(ctx, &a); err != nil {
					return err
				}
				return tx.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: web.ID, Name: "REDIS"})
			})
		}},
		{"two more, one before it by name and one after", func() error {
			for _, x := range []struct {
				name string
				app  store.App
			}{{"redis-aaa", other}, {"redis-zzz", web}} {
				n := store.Addon{Name: x.name, Service: "larder-redis", Plan: "mini", AppID: x.app.ID, State: api.StateProvisioned,
					MaxMemoryPolicy: "noeviction", AdminPassword: "a", CustomerUser: "default", CustomerPassword: "c"}
				if err := st.CreateAddon(ctx, &n); err != nil {
					return err
				}
				if err := st.CreateAttachment(ctx, &store.Attachment{AddonID: n.ID, AppID: web.ID, Name: "REDIS_" + strings.ToUpper(x.name[6:])}); err != nil {
					return err
				}
				last = n
			}
			return nil
		}},
		{"the last handed over to another app under a name that goes first", func() error {
			if ok, err := st.HandOverAddon(ctx, last.ID, web.ID, other.ID, "redis-000"); !ok || err != nil {
				return errors.Join(err, errors.New("not handed over"))
			}
			return nil
		}},
		{"its state", func() error { return st.SetAddonState(ctx, a.ID, api.StateProvisioned, "") }},
		{"its state again (only the time moves)", func() error { return st.SetAddonState(ctx, a.ID, api.StateProvisioned, "") }},
		{"its engine", func() error { return st.SetAddonEngine(ctx, a.ID, "valkey", "8.0.1") }},
		{"its engine, not the version", func() error { return st.SetAddonEngine(ctx, a.ID, "redis", "8.0.1") }},
		{"its settings", func() error { return st.UpdateAddonSettings(ctx, a.ID, "allkeys-lru", 30, "") }},
		{"its plan", func() error { return st.SetAddonPlan(ctx, a.ID, "premium-0") }},
		{"an event and a config var (not shown)", func() error {
			if err := st.AddEvent(ctx, a.ID, a.Name, "addon.note", "noted"); err != nil {
				return err
			}
			return st.SetUserVar(ctx, web.ID, "PLAIN", "1")
		}},
		{"attached to another app", func() error {
			return st.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: other.ID, Name: "CACHE"})
		}},
		{"detached from it", func() error {
			atts, err := st.AttachmentsOfApp(ctx, other.ID)
			if err != nil || len(atts) != 1 {
				return errors.Join(err, errors.New("want one attachment on api"))
			}
			return st.DeleteAttachment(ctx, atts[0].ID)
		}},
		{"the add-on deleted", func() error { return st.DeleteAddon(ctx, a.ID) }},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		check(s.name)
	}
}

// TestListingUnknownView: a view not offered is refused, saying which are.
func TestListingUnknownView(t *testing.T) {
	b := brokertest.New(t, testkit.HTTPAPI, quietBroker)
	srv := httptest.NewServer(New(b).Handler())
	t.Cleanup(srv.Close)
	for _, path := range []string{"/addons?view=tiny", "/apps/web/addons?view=FULL"} {
		code, body, _ := get(t, srv.URL+path)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "choose full or summary") {
			t.Errorf("GET %s = %d %s; want 422 naming the views", path, code, body)
		}
	}
}

// get reads url to its end with the test broker's token.
func get(t testing.TB, url string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+brokertest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

// fakeSource is a listing source whose answers a test sets.
type fakeSource struct {
	changed bool     // a whole listing changed
	patch   []string // else these add-ons did
	views   map[string]api.Addon
	paused  bool
	err     error
	next    int64
	asked   int64 // the cursor last asked about
}

func (f *fakeSource) ListingChanged(ctx context.Context, cursor int64) (int64, broker.ListingChange, error) {
	f.asked = cursor
	f.next++
	return f.next, broker.ListingChange{Whole: f.changed || cursor == 0, Addons: f.patch}, f.err
}

func (f *fakeSource) ListedViews(ctx context.Context, app string, ids []string) (map[string]api.Addon, error) {
	return f.views, nil
}

func (f *fakeSource) AnyWritesPaused() bool { return f.paused }

// TestListingsKeptOrReadAgain: when a kept listing is served, when patched
// and when it is read again — the rules, with a source a test sets.
func TestListingsKeptOrReadAgain(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{}
	l := &listings{src: src, kept: map[listingKey]*keptListing{}}
	reads := 0
	paused, fail := "", error(nil)
	read := func(ctx context.Context, k listingKey) ([]api.Addon, error) {
		reads++
		return []api.Addon{{ID: "a", Name: fmt.Sprintf("read-%d", reads), WritesPaused: paused}}, fail
	}
	full, summary := listingKey{"", api.ViewFull}, listingKey{"", api.ViewSummary}
	// ask asks for k's listing: after it, wantReads reads were made, and
	// the add-ons named served were answered (none, on wantErr).
	ask := func(step string, k listingKey, wantReads int, wantErr error, served ...string) {
		t.Helper()
		list, err := l.answer(ctx, k, read)
		var got []struct{ Name string }
		if list.Body != nil {
			if err := json.Unmarshal(list.Body, &got); err != nil {
				t.Fatalf("%s: %v in %q", step, err, list.Body)
			}
		}
		var names []string
		for _, a := range got {
			names = append(names, a.Name)
		}
		if !errors.Is(err, wantErr) || reads != wantReads || !slices.Equal(names, served) || list.Count != len(served) {
			t.Fatalf("%s: %s %v (counted %d), err %v after %d reads; want %v, err %v after %d", step, k.view, names, list.Count, err, reads, served, wantErr, wantReads)
		}
	}
	ask("first", full, 1, nil, "read-1")
	ask("unchanged", full, 1, nil, "read-1")
	ask("another view is kept apart", summary, 2, nil, "read-2")
	src.changed = true
	ask("changed", full, 3, nil, "read-3")
	src.changed = false
	ask("kept what it read", full, 3, nil, "read-3")

	src.patch, src.views = []string{"a", "b"}, map[string]api.Addon{"b": {ID: "b", Name: "new"}}
	ask("a few add-ons changed: read one by one, by name", full, 3, nil, "new")
	src.views = map[string]api.Addon{"a": {ID: "a", Name: "z-a"}, "b": {ID: "b", Name: "b"}}
	ask("again", full, 3, nil, "b", "z-a")
	src.patch = nil
	ask("kept what it patched", full, 3, nil, "b", "z-a")

	src.paused = true
	ask("a host pauses writes: the full view is read every time", full, 4, nil, "read-4")
	ask("and again", full, 5, nil, "read-5")
	ask("the summary shows no pause, and is kept", summary, 5, nil, "read-2")
	src.paused = false

	paused = "writes paused since …" // what is read shows a pause
	src.changed = true
	ask("read, not kept", full, 6, nil, "read-6")
	src.changed = false
	ask("so read again", full, 7, nil, "read-7")
	paused = ""
	ask("kept again", full, 8, nil, "read-8")
	ask("served", full, 8, nil, "read-8")

	src.err = errors.New("store down")
	ask("the source fails: said, nothing served", full, 8, src.err)
	src.err = nil
	src.changed = true
	fail = errors.New("read failed")
	ask("the read fails: said", full, 9, fail)
	keptAt := src.asked
	fail, src.changed = nil, false
	ask("asked again", full, 9, nil, "read-8")
	if src.asked != keptAt {
		t.Fatalf("after a failed read the kept listing's cursor moved from %d to %d: the change it missed would never be read", keptAt, src.asked)
	}
}
