package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"larder/broker/logs"
	"larder/engine"
	"larder/fault"
)

// getLogs answers GET /apps/{app}/logs?lines=N&source=redis|larder: the
// app's last N log lines (default 100, at most 1500), or with
// ?cursor=C&wait=30s the lines after C, waiting for one (a long-poll; the
// per-token waiter cap applies). Every answer carries the cursor to read on
// from.
func (b *API) getLogs(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	wait, err := waitParam(q.Get("wait"))
	if err != nil {
		return 0, nil, err
	}
	lines := 0
	if s := q.Get("lines"); s != "" {
		if lines, err = strconv.Atoi(s); err != nil {
			return 0, nil, fault.E(fault.Invalid, "lines %q is not a number of lines", engine.Truncate(s, 20))
		}
	}
	out, err := b.b.Logs.Read(r.Context(), waiterKey(r), mux.Vars(r)["app"], logs.Query{
		Lines: lines, Source: q.Get("source"), Cursor: q.Get("cursor"), Wait: wait})
	return http.StatusOK, out, err
}
