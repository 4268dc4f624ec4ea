package ratelog

import (
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// clock is a virtual clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAllow(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(30*time.Second, c.now)
	for i, step := range []struct {
		advance time.Duration
		key     string
		ok      bool
		skipped int
	}{
		{0, "a", true, 0},                 // first line of a key goes through
		{time.Second, "a", false, 0},      // held back
		{time.Second, "a", false, 0},      // held back
		{0, "b", true, 0},                 // keys are independent
		{28 * time.Second, "a", true, 2},  // 30 s after the first: through, counting the two
		{29 * time.Second, "a", false, 0}, // the interval restarts at the last line through
		{time.Second, "a", true, 1},
		{time.Hour, "b", true, 0}, // nothing held back
	} {
		c.t = c.t.Add(step.advance)
		ok, skipped := l.Allow(step.key)
		if ok != step.ok || skipped != step.skipped {
			t.Errorf("step %d: Allow(%q) = %v, %d; want %v, %d", i, step.key, ok, skipped, step.ok, step.skipped)
		}
	}
}

func TestLogCountsSuppressed(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(time.Minute, c.now)
	log, hook := test.NewNullLogger()
	for range 4 {
		l.Log(log, "restart", logrus.ErrorLevel, "cannot restart node")
		c.t = c.t.Add(10 * time.Second)
	}
	c.t = c.t.Add(time.Minute)
	l.Log(log.WithField("node", "n1"), "restart", logrus.WarnLevel, "cannot restart node")

	entries := hook.AllEntries()
	if len(entries) != 2 {
		t.Fatalf("logged %d lines, want 2: %v", len(entries), entries)
	}
	if e := entries[0]; e.Level != logrus.ErrorLevel || e.Message != "cannot restart node" || e.Data["suppressed"] != nil {
		t.Errorf("first line = %s %q %v; want error, no suppressed field", e.Level, e.Message, e.Data)
	}
	if e := entries[1]; e.Level != logrus.WarnLevel || e.Data["suppressed"] != 3 || e.Data["node"] != "n1" {
		t.Errorf("second line = %s %v; want warning with suppressed=3 and node=n1", e.Level, e.Data)
	}
}

// TestLogLimiter is the supervisor's own table, from before the limiter
// moved here.
func TestLogLimiter(t *testing.T) {
	c := &clock{}
	l := New(time.Minute, c.now)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at          time.Duration
		wantOK      bool
		wantSkipped int
	}{
		{0, true, 0}, {time.Second, false, 0}, {2 * time.Second, false, 0},
		{time.Minute, true, 2}, {time.Minute + time.Second, false, 0},
	}
	for _, s := range steps {
		c.t = t0.Add(s.at)
		ok, skipped := l.Allow("ping")
		if ok != s.wantOK || skipped != s.wantSkipped {
			t.Errorf("allow at +%v = %v, %d; want %v, %d", s.at, ok, skipped, s.wantOK, s.wantSkipped)
		}
	}
}
