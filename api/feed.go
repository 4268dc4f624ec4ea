package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"larder/fault"
)

// MaxWait is the longest wait the broker grants one request; longer asks are
// cut to it (a proxy in between may drop a quieter connection).
const MaxWait = 30 * time.Second

// Change is one entry of an app's change feed: something an app can see
// changed (its config vars, an attachment, an attached add-on's state, nodes,
// an operation or an event). The feed says what changed, not to what: read
// the state again.
type Change struct {
	Seq       int64     `json:"seq"`
	Kind      string    `json:"kind"` // config, attachment, addon, node, operation, event, app
	AddonName string    `json:"addon_name,omitempty"`
	Subject   string    `json:"subject,omitempty"` // an operation or event id
	At        time.Time `json:"at"`
}

// Changes kinds.
const (
	ChangeConfig     = "config"
	ChangeAttachment = "attachment"
	ChangeAddon      = "addon"
	ChangeNode       = "node"
	ChangeOperation  = "operation"
	ChangeEvent      = "event"
	ChangeBackup     = "backup" // a backup started, changed status or was deleted
	ChangeApp        = "app"
)

// ChangeBatch answers a read of the feed: the changes after the asked
// cursor, and the cursor to ask from next. Reset says the feed no longer
// holds changes that old (they were pruned): the reader must read the state
// again and follow from Cursor.
type ChangeBatch struct {
	Cursor  int64    `json:"cursor"`
	Changes []Change `json:"changes"`
	Reset   bool     `json:"reset,omitempty"`
}

// Changes reads an app's changes after cursor (a negative cursor: from now
// on), waiting up to wait for one when there is none yet.
func (c *Client) Changes(ctx context.Context, app string, cursor int64, wait time.Duration) (ChangeBatch, error) {
	q := url.Values{}
	if cursor >= 0 {
		q.Set("cursor", strconv.FormatInt(cursor, 10))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out ChangeBatch
	return out, c.do(ctx, call{method: http.MethodGet, path: "/apps/" + esc(app) + "/changes?" + q.Encode(), wait: wait}, nil, &out)
}

// OperationAfter fetches an operation, waiting up to wait for it to differ
// from seen (its last known UpdatedAt; zero: from what the broker has now)
// or to be done.
func (c *Client) OperationAfter(ctx context.Context, id string, seen time.Time, wait time.Duration) (Operation, error) {
	q := url.Values{"wait": {wait.String()}}
	if !seen.IsZero() {
		q.Set("since", seen.Format(time.RFC3339Nano))
	}
	var out Operation
	return out, c.do(ctx, call{method: http.MethodGet, path: "/operations/" + esc(id) + "?" + q.Encode(), wait: wait}, nil, &out)
}

// rideOut is how long WaitOperation goes on asking while no broker can
// answer (every broker restarting, the store's database restarting): the
// operation goes on meanwhile, and a wait is read-only.
var rideOut = 2 * time.Minute

// WaitOperation follows an operation until it is done or ctx ends; tick,
// when non-nil, is called with each state seen (for spinners). It waits on
// the broker (each request answers as soon as the operation changes); a
// broker that answers at once with nothing new is asked again after every
// instead. An answer that the broker or its store cannot be reached is
// asked again (backing off to 2 s) for up to rideOut.
func (c *Client) WaitOperation(ctx context.Context, id string, every time.Duration, tick func(Operation)) (Operation, error) {
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	var seen, down time.Time
	backoff := every
	for {
		asked := time.Now()
		op, err := c.OperationAfter(ctx, id, seen, MaxWait)
		if err != nil {
			if fault.KindOf(err) != fault.Unavailable || ctx.Err() != nil {
				return op, err
			}
			if down.IsZero() {
				down = asked
			}
			if time.Since(down) >= rideOut {
				return op, fault.E(fault.Unavailable, "%s (for %s); operation %s goes on without this wait: `larder addons:info` shows how it ends", fault.Message(err), rideOut, id)
			}
			select {
			case <-ctx.Done():
				return op, ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		down, backoff = time.Time{}, every
		if tick != nil {
			tick(op)
		}
		if op.Done() {
			if op.State == OpFailed {
				return op, fault.E(fault.Unavailable, "%s of %s failed: %s", op.Kind, op.AddonName, op.Error)
			}
			return op, nil
		}
		unchanged := !seen.IsZero() && op.UpdatedAt.Equal(seen)
		seen = op.UpdatedAt
		if !unchanged || time.Since(asked) >= MaxWait/2 {
			continue
		}
		// Nothing new, at once: this broker does not wait. Poll it.
		select {
		case <-ctx.Done():
			return op, ctx.Err()
		case <-time.After(every):
		}
	}
}
