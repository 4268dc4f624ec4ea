package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"larder/fault"
	"larder/store"
)

// sessionAt is a dashboard session named key that ends at expires.
func sessionAt(key string, expires time.Time) store.DashboardSession {
	return store.DashboardSession{Key: key, CSRF: "csrf-" + key, Expires: expires}
}

// sessionT0 is the sessions tests' "now", to the microsecond.
var sessionT0 = time.UnixMicro(1_800_000_000_123_456).UTC()

func mustCreateSession(t *testing.T, s store.Store, ss store.DashboardSession, now time.Time, max int) {
	t.Helper()
	if err := s.CreateSession(context.Background(), ss, now, max); err != nil {
		t.Fatalf("CreateSession(%s) = %v", ss.Key, err)
	}
}

// liveSessions reports which of keys are live at now.
func liveSessions(t *testing.T, s store.Store, now time.Time, keys ...string) map[string]bool {
	t.Helper()
	live := map[string]bool{}
	for _, k := range keys {
		_, err := s.GetSession(context.Background(), k, now)
		switch {
		case err == nil:
			live[k] = true
		case !errors.Is(err, fault.NotFound):
			t.Fatalf("GetSession(%s) = %v; want the session or NotFound", k, err)
		}
	}
	return live
}

func testSessionsCreateGetEnd(t *testing.T, s store.Store) {
	ctx := context.Background()
	want := sessionAt("k1", sessionT0.Add(time.Hour))
	mustCreateSession(t, s, want, sessionT0, 10)
	got, err := s.GetSession(ctx, "k1", sessionT0)
	if err != nil || got.Key != want.Key || got.CSRF != want.CSRF || !got.Expires.Equal(want.Expires) || got.Flash != (store.Flash{}) {
		t.Fatalf("GetSession = %+v, %v; want %+v", got, err, want)
	}
	if err := s.CreateSession(ctx, sessionAt("k1", sessionT0.Add(2*time.Hour)), sessionT0, 10); !errors.Is(err, fault.Conflict) {
		t.Errorf("CreateSession of a taken key = %v; want Conflict", err)
	}
	for _, bad := range []store.DashboardSession{
		{CSRF: "c", Expires: sessionT0.Add(time.Hour)},
		{Key: "k2", Expires: sessionT0.Add(time.Hour)},
		sessionAt("k2", sessionT0),
	} {
		if err := s.CreateSession(ctx, bad, sessionT0, 10); !errors.Is(err, fault.Invalid) {
			t.Errorf("CreateSession(%+v) = %v; want Invalid", bad, err)
		}
	}
	if live := liveSessions(t, s, sessionT0, "k1", "k2"); !live["k1"] || live["k2"] {
		t.Fatalf("live after the refused creates: %v; want k1 only", live)
	}
	if err := s.EndSession(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "k1", sessionT0); !errors.Is(err, fault.NotFound) {
		t.Errorf("GetSession after EndSession = %v; want NotFound", err)
	}
	if err := s.EndSession(ctx, "k1"); err != nil {
		t.Errorf("EndSession of an ended session = %v; want nil", err)
	}
}

func testSessionsExpire(t *testing.T, s store.Store) {
	ctx := context.Background()
	end := sessionT0.Add(time.Minute)
	mustCreateSession(t, s, sessionAt("short", end), sessionT0, 10)
	mustCreateSession(t, s, sessionAt("long", sessionT0.Add(time.Hour)), sessionT0, 10)
	if live := liveSessions(t, s, end.Add(-time.Microsecond), "short", "long"); len(live) != 2 {
		t.Fatalf("live a microsecond before the end: %v; want both", live)
	}
	if live := liveSessions(t, s, end, "short", "long"); live["short"] || !live["long"] {
		t.Fatalf("live at the short one's end: %v; want long only", live)
	}
	if err := s.SetSessionFlash(ctx, "nobody", store.Flash{Kind: store.FlashInfo, Text: "x"}); !errors.Is(err, fault.NotFound) {
		t.Errorf("SetSessionFlash of no session = %v; want NotFound", err)
	}
	// A session created at the short one's end drops it from the store,
	// not only from view: asked at the start, it is gone.
	mustCreateSession(t, s, sessionAt("next", end.Add(time.Hour)), end, 10)
	if live := liveSessions(t, s, sessionT0, "short", "long", "next"); live["short"] || !live["long"] || !live["next"] {
		t.Fatalf("live after a create at the short one's end, asked at the start: %v; want long and next (short is gone)", live)
	}
}

func testSessionsCap(t *testing.T, s store.Store) {
	// Three sessions, the cap: the next one drops the one nearest its end
	// (b, created last but shortest), whatever the order they came in.
	mustCreateSession(t, s, sessionAt("a", sessionT0.Add(2*time.Hour)), sessionT0, 3)
	mustCreateSession(t, s, sessionAt("c", sessionT0.Add(3*time.Hour)), sessionT0, 3)
	mustCreateSession(t, s, sessionAt("b", sessionT0.Add(time.Hour)), sessionT0, 3)
	mustCreateSession(t, s, sessionAt("d", sessionT0.Add(4*time.Hour)), sessionT0, 3)
	keys := []string{"a", "b", "c", "d", "e", "f"}
	if live := liveSessions(t, s, sessionT0, keys...); len(live) != 3 || live["b"] {
		t.Fatalf("live after a fourth at a cap of 3: %v; want a, c, d", live)
	}
	// At 2h, a has expired: it goes, and no live one for the new one.
	later := sessionT0.Add(2 * time.Hour)
	mustCreateSession(t, s, sessionAt("e", later.Add(time.Hour)), later, 3)
	if live := liveSessions(t, s, later, keys...); len(live) != 3 || !live["c"] || !live["d"] || !live["e"] {
		t.Fatalf("live after a create with one expired: %v; want c, d, e", live)
	}
	if live := liveSessions(t, s, sessionT0, "a"); live["a"] {
		t.Fatalf("a is still in the store (live at the start) after the create; want it gone with it")
	}
	// A smaller cap (a broker configured so) drops down to it.
	mustCreateSession(t, s, sessionAt("f", later.Add(5*time.Hour)), later, 1)
	if live := liveSessions(t, s, later, keys...); len(live) != 1 || !live["f"] {
		t.Fatalf("live after a create at a cap of 1: %v; want f only", live)
	}
}

func testSessionsFlashOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateSession(t, s, sessionAt("k", sessionT0.Add(time.Hour)), sessionT0, 10)
	f := store.Flash{Kind: store.FlashError, Text: "Nothing was changed."}
	if err := s.SetSessionFlash(ctx, "k", f); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSession(ctx, "k", sessionT0); err != nil || got.Flash != f {
		t.Fatalf("GetSession after SetSessionFlash = %+v, %v; want the flash %+v", got, err, f)
	}
	if got, err := s.TakeSessionFlash(ctx, "k"); err != nil || got != f {
		t.Fatalf("TakeSessionFlash = %+v, %v; want %+v", got, err, f)
	}
	if got, err := s.TakeSessionFlash(ctx, "k"); err != nil || got != (store.Flash{}) {
		t.Fatalf("TakeSessionFlash again = %+v, %v; want none", got, err)
	}
	if got, err := s.TakeSessionFlash(ctx, "nobody"); err != nil || got != (store.Flash{}) {
		t.Fatalf("TakeSessionFlash of no session = %+v, %v; want none", got, err)
	}
	// Takes at once: every round's message is shown exactly once.
	const takers = 6
	for round := range 10 {
		f := store.Flash{Kind: store.FlashInfo, Text: fmt.Sprintf("round %d", round)}
		if err := s.SetSessionFlash(ctx, "k", f); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		got := make([]store.Flash, takers)
		errs := make([]error, takers)
		for i := range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.TakeSessionFlash(ctx, "k")
			}()
		}
		wg.Wait()
		shown := 0
		for i := range takers {
			if errs[i] != nil {
				t.Fatalf("round %d: TakeSessionFlash = %v", round, errs[i])
			}
			if got[i] == f {
				shown++
			} else if got[i] != (store.Flash{}) {
				t.Fatalf("round %d: a take got %+v; want %+v or none", round, got[i], f)
			}
		}
		if shown != 1 {
			t.Fatalf("round %d: the flash was taken %d times by %d takes at once; want once", round, shown, takers)
		}
	}
}
