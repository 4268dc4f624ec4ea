package httpapi

// The add-on listings (GET /addons, GET /apps/{app}/addons) are kept
// encoded, each with the change feed's position it is at least as new as,
// and answered again while no change since is of a kind a listing shows
// (broker.Addons.ListingChanged); after a change of a few add-ons, only
// those are read again and encoded, and the answer is joined again from
// the items kept. A listing of 10 000 add-ons costs two reads of every
// add-on and its attachments and 11 MB of JSON to encode; the changes since
// it was kept, one indexed read of a few rows. The store's triggers record
// a change in the same transaction as every change a listing shows,
// whichever broker made it, so a kept listing is never older than what the
// store held when the request came.

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/broker"
	"larder/fault"
	"larder/internal/httpjson"
)

// maxKept bounds the listings kept (every add-on's, each app's, in each
// view): past it, one kept listing is dropped for each new one.
const maxKept = 256

type listingKey struct{ app, view string }

// compact says whether the view is encoded without indentation: the
// summary is for programs (the CLI's tables), and without the indentation
// people reading with curl want it is a third shorter.
func (k listingKey) compact() bool { return k.view == api.ViewSummary }

// listings keeps the encoded listings.
type listings struct {
	src  listingSource
	mu   sync.Mutex
	kept map[listingKey]*keptListing
}

// listingSource reads listings and says when a kept one is out of date
// (broker.Addons).
type listingSource interface {
	ListingChanged(ctx context.Context, cursor int64) (next int64, ch broker.ListingChange, err error)
	ListedViews(ctx context.Context, app string, ids []string) (map[string]api.Addon, error)
	AnyWritesPaused() bool
}

// keptListing is one listing as last read: its items, by name, each
// encoded, and the answer they make. mu is held by the request that reads
// it again, so requests that arrive meanwhile wait for its answer rather
// than all reading the store.
type keptListing struct {
	mu     sync.Mutex
	cursor int64 // the change feed's position it is at least as new as
	items  []keptItem
	body   httpjson.List // Body nil until read
}

// keptItem is one add-on of a kept listing, encoded in its view.
type keptItem struct {
	id, name string
	enc      []byte
}

func (b *API) listAddons(r *http.Request) (int, any, error) {
	return b.listing(r, "")
}

func (b *API) listAppAddons(r *http.Request) (int, any, error) {
	return b.listing(r, mux.Vars(r)["app"])
}

// listing answers a listing of app's add-ons (of every add-on when app is
// "") in the view ?view= names.
func (b *API) listing(r *http.Request, app string) (int, any, error) {
	view := r.URL.Query().Get("view")
	switch view {
	case "":
		view = api.ViewFull
	case api.ViewFull, api.ViewSummary:
	default:
		return 0, nil, fault.E(fault.Invalid, "unknown view %q; choose %s or %s", view, api.ViewFull, api.ViewSummary)
	}
	body, err := b.listings.answer(r.Context(), listingKey{app, view}, b.readListing)
	return http.StatusOK, body, err
}

// readListing reads a whole listing from the store.
func (b *API) readListing(ctx context.Context, k listingKey) ([]api.Addon, error) {
	if k.app == "" {
		return b.b.Addons.ListAddons(ctx)
	}
	return b.b.Addons.ListAppAddons(ctx, k.app)
}

// answer is listing k's body: as kept when nothing it shows has changed
// since it was read, patched when a few add-ons have, else read whole
// (read) again; kept when the store holds all it shows (no host's write
// pause is in it).
func (l *listings) answer(ctx context.Context, k listingKey, read func(context.Context, listingKey) ([]api.Addon, error)) (httpjson.List, error) {
	e := l.entry(k)
	e.mu.Lock()
	defer e.mu.Unlock()
	cursor := e.cursor
	if e.body.Body == nil {
		cursor = 0
	}
	next, ch, err := l.src.ListingChanged(ctx, cursor)
	if err != nil {
		return httpjson.List{}, err
	}
	// A full listing shows the write pauses hosts report, which the change
	// feed does not carry: while there are any it is read every time.
	if k.view == api.ViewFull && l.src.AnyWritesPaused() {
		ch.Whole = true
	}
	if !ch.Changed() {
		e.cursor = next
		return e.body, nil
	}
	if !ch.Whole {
		views, err := l.src.ListedViews(ctx, k.app, ch.Addons)
		if err == nil {
			err = e.patch(k, ch.Addons, views)
		}
		if err == nil {
			e.cursor = next
			return e.body, nil
		}
		// What cannot be patched (an app gone, an item that does not
		// encode) is read whole, and says so if it fails again.
	}
	addons, err := read(ctx, k)
	if err != nil {
		return httpjson.List{}, err
	}
	items := make([]keptItem, len(addons))
	keep := true
	for i, a := range addons {
		keep = keep && a.WritesPaused == ""
		if items[i], err = encodeItem(k, a); err != nil {
			return httpjson.List{}, err
		}
	}
	// By name, bytewise, as a patch puts an add-on back (a database may
	// collate otherwise).
	slices.SortFunc(items, func(a, b keptItem) int { return strings.Compare(a.name, b.name) })
	list := joinItems(k, items)
	if keep {
		e.cursor, e.items, e.body = next, items, list
	} else {
		e.items, e.body = nil, httpjson.List{}
	}
	return list, nil
}

// patch replaces the items of add-ons ids with their views as they now
// are (dropping those views does not hold: gone from the listing) and joins
// the answer again.
func (e *keptListing) patch(k listingKey, ids []string, views map[string]api.Addon) error {
	items := slices.Clone(e.items)
	for _, id := range ids {
		items = slices.DeleteFunc(items, func(it keptItem) bool { return it.id == id })
		v, ok := views[id]
		if !ok {
			continue
		}
		it, err := encodeItem(k, v)
		if err != nil {
			return err
		}
		at, _ := slices.BinarySearchFunc(items, it.name, func(it keptItem, name string) int { return strings.Compare(it.name, name) })
		items = slices.Insert(items, at, it)
	}
	e.items, e.body = items, joinItems(k, items)
	return nil
}

// encodeItem encodes add-on a as listing k shows it.
func encodeItem(k listingKey, a api.Addon) (keptItem, error) {
	var v any = a
	if k.view == api.ViewSummary {
		v = a.Summary(k.app)
	}
	enc, err := httpjson.EncodeItem(v, k.compact())
	return keptItem{id: a.ID, name: a.Name, enc: enc}, err
}

// joinItems is the answer of listing k made of items.
func joinItems(k listingKey, items []keptItem) httpjson.List {
	encs := make([][]byte, len(items))
	for i, it := range items {
		encs[i] = it.enc
	}
	return httpjson.List{Body: httpjson.JoinItems(encs, k.compact()), Count: len(items)}
}

// entry is k's kept listing, made (empty) when there is none.
func (l *listings) entry(k listingKey) *keptListing {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.kept[k]; ok {
		return e
	}
	if len(l.kept) >= maxKept {
		for old := range l.kept {
			delete(l.kept, old)
			break
		}
	}
	e := &keptListing{}
	l.kept[k] = e
	return e
}
