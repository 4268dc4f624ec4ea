package cmdkit

import (
	"context"
	"fmt"
	"io"
	"time"

	"larder/api"
	"larder/cli/ui"
)

// ChangesFunc reads an app's change feed (api.Client.Changes).
type ChangesFunc func(ctx context.Context, cursor int64, wait time.Duration) (api.ChangeBatch, error)

// FollowChanges wakes its caller whenever the app's change feed says
// something changed: once at the start (so a change between the caller's
// first read and the feed's cursor is not missed), then after every batch of
// changes, as soon as the broker commits them. When the feed cannot be read
// it says so once on notes, wakes the caller every `every` instead (plain
// polling) and tries the feed again each time; it says so when the feed is
// back. The channel holds at most one wake-up: a caller that is busy sees
// one, however many changes came meanwhile. It ends with ctx.
func FollowChanges(ctx context.Context, changes ChangesFunc, every time.Duration, notes io.Writer) <-chan struct{} {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() {
		cursor := int64(-1) // from now on
		failing := false
		for ctx.Err() == nil {
			wait := api.MaxWait
			if cursor < 0 {
				wait = 0 // learn the head first
			}
			b, err := changes(ctx, cursor, wait)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if !failing {
					fmt.Fprintf(notes, "cannot follow the app's changes (%s); checking every %s instead\n", ErrorText(err), every)
					failing = true
				}
				poke()
				select {
				case <-ctx.Done():
					return
				case <-time.After(every):
				}
				continue
			}
			if failing {
				fmt.Fprintln(notes, "following the app's changes again")
				failing = false
			}
			if cursor < 0 || len(b.Changes) > 0 || b.Reset {
				poke()
			}
			cursor = b.Cursor
		}
	}()
	return wake
}

// WaitOperation polls op on addon until it ends, showing its progress on sp,
// and finishes sp. doing says what goes on in the background ("created") if
// the user stops waiting with Ctrl-C.
func WaitOperation(ctx context.Context, cl *api.Client, addon string, op *api.Operation, sp *ui.Spinner, doing string) (api.Operation, error) {
	got, err := cl.WaitOperation(ctx, op.ID, 500*time.Millisecond, func(o api.Operation) { sp.SetStatus(o.Progress) })
	if err != nil && ctx.Err() != nil {
		sp.Finish("interrupted")
		return got, &InterruptedError{fmt.Sprintf("stopped waiting; %s is still being %s in the background. Run larder addons:info %s to check progress.",
			addon, doing, addon)}
	}
	return got, sp.FinishErr(err)
}
