package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"larder/api"
	"larder/fault"
)

// getOperation answers GET /operations/{id}: at once, or with ?wait=30s as
// soon as the operation differs from ?since (its updated_at as the caller
// last saw it; default: as it is now) or is done, or at the wait's end with
// it as it is.
func (b *API) getOperation(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	wait, err := waitParam(q.Get("wait"))
	if err != nil {
		return 0, nil, err
	}
	var since time.Time
	if s := q.Get("since"); s != "" {
		if since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return 0, nil, fault.E(fault.Invalid, "since %q is not a time like 2026-01-02T15:04:05.123456789Z (an operation's updated_at)", s)
		}
	}
	op, err := b.b.Changes.WaitOperation(r.Context(), waiterKey(r), mux.Vars(r)["id"], since, wait)
	return http.StatusOK, op, err
}

// getAppChanges answers GET /apps/{app}/changes?cursor=N&wait=30s with the
// app's changes after the cursor (none: from now on), waiting for one; with
// Accept: text/event-stream it streams them as server-sent events (each an
// event "change" whose id is its seq; Last-Event-ID resumes, and wins
// over ?cursor).
func (b *API) getAppChanges(w http.ResponseWriter, r *http.Request) {
	b.appChanges(w, r, waiterKey(r))
}

// appChanges answers a read of an app's change feed for the caller key
// (counted against the waiters' cap): the API's, and the dashboard's live
// view's behind its session.
func (b *API) appChanges(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	stream := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	// A reconnecting EventSource sends its URL's cursor again with the id it
	// last saw: the id is where it is.
	cursorText := q.Get("cursor")
	if id := r.Header.Get("Last-Event-ID"); id != "" && stream {
		cursorText = id
	}
	cursor, err := cursorParam(cursorText)
	if err != nil {
		b.writeError(w, r, err)
		return
	}
	if stream {
		b.streamChanges(w, r, key, cursor)
		return
	}
	b.serve(func(r *http.Request) (int, any, error) {
		wait, err := waitParam(q.Get("wait"))
		if err != nil {
			return 0, nil, err
		}
		batch, err := b.b.Changes.AppChanges(r.Context(), key, mux.Vars(r)["app"], cursor, wait)
		if err != nil {
			return 0, nil, err
		}
		if batch.Changes == nil {
			batch.Changes = []api.Change{}
		}
		return http.StatusOK, batch, nil
	})(w, r)
}

// streamChanges writes server-sent events until the client goes or the
// broker stops. Errors before the first byte are answered as JSON errors.
func (b *API) streamChanges(w http.ResponseWriter, r *http.Request, key string, cursor int64) {
	rc := http.NewResponseController(w)
	started := false
	start := func() error {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		started = true
		// The headers go at once: a client waits for them before it acts.
		if _, err := w.Write([]byte(": following\n\n")); err != nil {
			return err
		}
		return rc.Flush()
	}
	err := b.b.Changes.FollowAppChanges(r.Context(), key, mux.Vars(r)["app"], cursor, start, func(batch api.ChangeBatch) error {
		var sb strings.Builder
		if batch.Reset {
			fmt.Fprintf(&sb, "id: %d\nevent: reset\ndata: {\"cursor\":%d}\n\n", batch.Cursor, batch.Cursor)
		}
		for _, c := range batch.Changes {
			data, _ := json.Marshal(c)
			fmt.Fprintf(&sb, "id: %d\nevent: change\ndata: %s\n\n", c.Seq, data)
		}
		if sb.Len() == 0 {
			sb.WriteString(": keepalive\n\n")
		}
		if _, err := w.Write([]byte(sb.String())); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && !started && r.Context().Err() == nil {
		b.writeError(w, r, err)
	}
}

// waitParam reads ?wait: a duration (30s, 500ms) or a number of seconds;
// empty means no wait.
func waitParam(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 && !math.IsInf(n, 0) {
		// Longer asks are cut to the longest wait anyway; cutting here
		// keeps a huge number from overflowing a Duration.
		return time.Duration(min(n, api.MaxWait.Seconds()) * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fault.E(fault.Invalid, "wait %q is not a duration like 30s or 500ms", s)
	}
	return d, nil
}

// cursorParam reads a feed cursor: a change's seq; empty means from now on.
func cursorParam(s string) (int64, error) {
	if s == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fault.E(fault.Invalid, "cursor %q is not a change's number (a whole number, 0 or more)", s)
	}
	return n, nil
}

// waiterKey names the caller for the waiters' cap: its credentials, hashed
// (the token itself is not kept).
func waiterKey(r *http.Request) string {
	sum := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return hex.EncodeToString(sum[:8])
}
