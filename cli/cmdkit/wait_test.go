package cmdkit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"larder/api"
	"larder/internal/testkit"
)

// feedScript answers FollowChanges' reads from a list of scripted answers,
// recording the cursors asked; after the list it blocks until ctx ends.
type feedScript struct {
	mu      sync.Mutex
	answers []func() (api.ChangeBatch, error)
	asked   []int64
	waits   []time.Duration
}

func (f *feedScript) read(ctx context.Context, cursor int64, wait time.Duration) (api.ChangeBatch, error) {
	f.mu.Lock()
	f.asked = append(f.asked, cursor)
	f.waits = append(f.waits, wait)
	if len(f.answers) == 0 {
		f.mu.Unlock()
		<-ctx.Done()
		return api.ChangeBatch{}, ctx.Err()
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	f.mu.Unlock()
	return a()
}

func batch(cursor int64, n int) func() (api.ChangeBatch, error) {
	return func() (api.ChangeBatch, error) {
		b := api.ChangeBatch{Cursor: cursor}
		for i := 0; i < n; i++ {
			b.Changes = append(b.Changes, api.Change{Seq: cursor - int64(n-1-i), Kind: api.ChangeConfig})
		}
		return b, nil
	}
}

func wakeWithin(t *testing.T, wake <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up: %s", what)
	}
}

// TestFollowChangesWakes: the follower learns the head without waiting,
// wakes once for it, then long-polls from the cursor it was given and wakes
// for a batch with changes and for a reset, never for an empty batch.
func TestFollowChangesWakes(t *testing.T) {
	gate, gate2 := make(chan struct{}), make(chan struct{})
	f := &feedScript{answers: []func() (api.ChangeBatch, error){
		batch(7, 0),
		batch(7, 0), // a wait that ran out
		func() (api.ChangeBatch, error) { <-gate; return batch(9, 2)() },
		func() (api.ChangeBatch, error) { <-gate2; return api.ChangeBatch{Cursor: 20, Reset: true}, nil },
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var notes testkit.SyncBuffer
	wake := FollowChanges(ctx, f.read, time.Hour, &notes)
	wakeWithin(t, wake, "the head")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) { // until the empty batch was read and the next read waits
		f.mu.Lock()
		n := len(f.asked)
		f.mu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-wake:
		t.Fatal("woken by an empty batch")
	default:
	}
	close(gate)
	wakeWithin(t, wake, "a batch of changes")
	close(gate2) // wake-ups coalesce: one at a time
	wakeWithin(t, wake, "a reset")
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.asked[:4]; got[0] != -1 || got[1] != 7 || got[2] != 7 || got[3] != 9 {
		t.Errorf("cursors asked: %v", f.asked)
	}
	if f.waits[0] != 0 || f.waits[1] != api.MaxWait {
		t.Errorf("waits asked: %v", f.waits)
	}
	if notes.String() != "" {
		t.Errorf("notes: %q", notes.String())
	}
}

// TestFollowChangesFallsBack: a feed that cannot be read is said once; the
// caller is woken every interval meanwhile; the feed's return is said too.
func TestFollowChangesFallsBack(t *testing.T) {
	down := func() (api.ChangeBatch, error) { return api.ChangeBatch{}, errors.New("connection refused") }
	f := &feedScript{answers: []func() (api.ChangeBatch, error){down, down, down, batch(3, 0)}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var notes testkit.SyncBuffer
	wake := FollowChanges(ctx, f.read, time.Millisecond, &notes)
	// Wake-ups coalesce when the caller is slow: drain them until the feed
	// is said to be back.
	wakeWithin(t, wake, "a fallback tick")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(notes.String(), "again") && time.Now().Before(deadline) {
		select {
		case <-wake:
		case <-time.After(time.Millisecond): // the note follows the last answer
		}
	}
	got := notes.String()
	if strings.Count(got, "cannot follow") != 1 || !strings.Contains(got, "connection refused") || !strings.Contains(got, "following the app's changes again") {
		t.Errorf("notes: %q", got)
	}
}
