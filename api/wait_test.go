package api

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"larder/fault"
)

// TestWaitOperationRidesOutAnOutage: a wait on an operation goes on asking
// while the broker answers that it cannot reach its store (a database
// restarting), for up to rideOut, and ends as soon as the operation does;
// any other error ends it at once.
func TestWaitOperationRidesOutAnOutage(t *testing.T) {
	defer func(d time.Duration) { rideOut = d }(rideOut)
	rideOut = 2 * time.Second
	ctx := context.Background()
	outage := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"id":"unavailable","message":"cannot reach the store (its database is restarting or out of reach); try again in a moment"}`))
	}
	done := `{"id":"op-1","kind":"provision","addon_name":"redis-a","state":"succeeded"}`

	t.Run("the store comes back", func(t *testing.T) {
		var n atomic.Int64
		b := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 3 {
				outage(w)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(done))
		})
		op, err := NewClient(b.URL, "t").WaitOperation(ctx, "op-1", 10*time.Millisecond, nil)
		if err != nil || op.State != OpSucceeded || b.count() != 4 {
			t.Fatalf("WaitOperation = %+v, %v after %d requests; want it succeeded after 3 outage answers", op, err, b.count())
		}
	})
	t.Run("it does not come back", func(t *testing.T) {
		b := newServer(t, func(w http.ResponseWriter, r *http.Request) { outage(w) })
		start := time.Now()
		_, err := NewClient(b.URL, "t").WaitOperation(ctx, "op-1", 10*time.Millisecond, nil)
		if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "goes on without this wait") ||
			!strings.Contains(fault.Message(err), "cannot reach the store") {
			t.Fatalf("WaitOperation = %v; want the outage, and that the operation goes on", err)
		}
		if took := time.Since(start); took > rideOut+30*time.Second {
			t.Fatalf("gave up after %s, for a ride-out of %s", took, rideOut)
		}
	})
	t.Run("not found ends it", func(t *testing.T) {
		b := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"id":"not_found","message":"no operation with id op-1"}`))
		})
		_, err := NewClient(b.URL, "t").WaitOperation(ctx, "op-1", 10*time.Millisecond, nil)
		if fault.KindOf(err) != fault.NotFound || b.count() != 1 {
			t.Fatalf("WaitOperation = %v after %d requests; want not found at once", err, b.count())
		}
	})
}
