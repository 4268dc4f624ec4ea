package httpapi

// The add-on listings (GET /addons, GET /apps/{app}/addons) are kept
// encoded, each with the change feed's position it is at least as new as,
// and answered again while no change since is of a kind a listing shows
// (broker.Addons.ListingChanged). A listing of 10 000 add-ons costs two
// reads of every add-on and its attachments and 7 MB of JSON to encode;
// the changes since it was kept, one indexed read of a few rows. The
// store's triggers record a change in the same transaction as every change
// a listing shows, whichever broker made it, so a kept listing is never
// older than what the store held when the request came.

import (
	"context"
	"net/http"
	"sync"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/fault"
	"larder/internal/httpjson"
)

// maxKept bounds the listings kept (every add-on's, each app's, in each
// view): past it, one kept listing is dropped for each new one.
const maxKept = 256

type listingKey struct{ app, view string }

// listings keeps the encoded listings.
type listings struct {
	src  listingSource
	mu   sync.Mutex
	kept map[listingKey]*keptListing
}

// listingSource says when a kept listing is out of date (broker.Addons).
type listingSource interface {
	ListingChanged(ctx context.Context, cursor int64) (next int64, changed bool, err error)
	AnyWritesPaused() bool
}

// keptListing is one listing as last read. mu is held by the request that
// reads it again, so requests that arrive meanwhile wait for its answer
// rather than all reading the store.
type keptListing struct {
	mu     sync.Mutex
	cursor int64         // the change feed's position it is at least as new as
	body   httpjson.List // Body nil until read
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

// readListing reads a listing from the store: its items, how many, and
// whether the store holds all it shows (no host's write pause is in it).
func (b *API) readListing(ctx context.Context, k listingKey) (v any, n int, keep bool, err error) {
	var addons []api.Addon
	if k.app == "" {
		addons, err = b.b.Addons.ListAddons(ctx)
	} else {
		addons, err = b.b.Addons.ListAppAddons(ctx, k.app)
	}
	if err != nil {
		return nil, 0, false, err
	}
	if k.view == api.ViewSummary {
		return api.Summaries(addons), len(addons), true, nil
	}
	for _, a := range addons {
		if a.WritesPaused != "" {
			return addons, len(addons), false, nil
		}
	}
	return addons, len(addons), true, nil
}

// answer is listing k's body: as kept when nothing it shows has changed
// since it was read, else read again (and kept when it can be).
func (l *listings) answer(ctx context.Context, k listingKey, read func(context.Context, listingKey) (any, int, bool, error)) (httpjson.List, error) {
	e := l.entry(k)
	e.mu.Lock()
	defer e.mu.Unlock()
	cursor := e.cursor
	if e.body.Body == nil {
		cursor = 0
	}
	next, changed, err := l.src.ListingChanged(ctx, cursor)
	if err != nil {
		return httpjson.List{}, err
	}
	// A full listing shows the write pauses hosts report, which the change
	// feed does not carry: while there are any it is read every time.
	if k.view == api.ViewFull && l.src.AnyWritesPaused() {
		changed = true
	}
	if !changed {
		e.cursor = next
		return e.body, nil
	}
	v, n, keep, err := read(ctx, k)
	if err != nil {
		return httpjson.List{}, err
	}
	// The summary is for programs (the CLI's tables): without the
	// indentation people reading with curl want, it is a third shorter.
	body, err := httpjson.Encode(v, len(e.body.Body)+len(e.body.Body)/8, k.view == api.ViewSummary)
	if err != nil {
		return httpjson.List{}, err
	}
	list := httpjson.List{Body: body, Count: n}
	if keep {
		e.cursor, e.body = next, list
	} else {
		e.body = httpjson.List{}
	}
	return list, nil
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
