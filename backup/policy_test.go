package backup

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"larder/fault"
)

func TestExpired(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2026, 1, n, 2, 0, 0, 0, time.UTC) }
	// v: verified, u: not verified; the digit is the day it was taken.
	list := func(specs ...string) []Stored {
		var out []Stored
		for _, s := range specs {
			n := int(s[1] - '0')
			out = append(out, Stored{ID: s, At: day(n), Verified: s[0] == 'v'})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		backups []Stored
		keep    int
		want    []string
	}{
		{"nothing", nil, 7, nil},
		{"fewer than kept", list("v1", "v2", "v3"), 7, nil},
		{"the oldest go", list("v1", "v2", "v3", "v4", "v5"), 3, []string{"v2", "v1"}},
		{"order does not matter", list("v3", "v1", "v5", "v2", "v4"), 3, []string{"v2", "v1"}},
		{"keep one", list("v1", "v2"), 1, []string{"v1"}},
		{"failed verifications do not count", list("v1", "v2", "u3", "u4", "u5"), 2, nil},
		{"nothing verified: nothing deleted", list("u1", "u2", "u3", "u4"), 1, nil},
		{"unverified ones older than a verified one go", list("u1", "v2", "u3", "v4"), 2, []string{"u3", "u1"}},
		{"unverified ones newer than every verified one stay", list("v1", "v2", "v3", "u4", "u5"), 1, []string{"v2", "v1"}},
		{"a verified backup beyond keep goes, an older failed one too", list("u1", "v2", "v3", "v4"), 2, []string{"v2", "u1"}},
		{"same time: ties broken by id", []Stored{{ID: "a", At: day(1), Verified: true}, {ID: "b", At: day(1), Verified: true}}, 1, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expired(tc.backups, tc.keep)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Expired(keep %d) = %v, %v; want %v", tc.keep, got, err, tc.want)
			}
			// Whatever goes has a newer verified backup that stays.
			gone := map[string]bool{}
			for _, id := range got {
				gone[id] = true
			}
			for _, b := range tc.backups {
				if !gone[b.ID] {
					continue
				}
				covered := false
				for _, o := range tc.backups {
					covered = covered || o.Verified && !gone[o.ID] && (o.At.After(b.At) || o.At.Equal(b.At) && o.ID > b.ID)
				}
				if !covered {
					t.Errorf("%s is deleted without a newer verified backup kept", b.ID)
				}
			}
		})
	}
	if _, err := Expired(list("v1"), 0); fault.KindOf(err) != fault.Invalid {
		t.Errorf("Expired(keep 0) error = %v, want invalid", err)
	}
}

func TestParseDaily(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tc := range []struct {
		in      string
		want    Daily
		wantErr string
	}{
		{in: "02:00 UTC", want: Daily{2, 0, time.UTC}},
		{in: "2:30", want: Daily{2, 30, time.UTC}},
		{in: "  23:59   utc ", want: Daily{23, 59, time.UTC}},
		{in: "00:00 GMT", want: Daily{0, 0, time.UTC}},
		{in: "14:15 Europe/Paris", want: Daily{14, 15, paris}},
		{in: "", wantErr: "want a time of day"},
		{in: "02:00 UTC extra", wantErr: "want a time of day and at most a zone"},
		{in: "24:00", wantErr: "the hour must be 00-23"},
		{in: "12:60", wantErr: "the minute must be 00-59"},
		{in: "2am", wantErr: "the time is not HH:MM"},
		{in: "02:0", wantErr: "the time is not HH:MM"},
		{in: "-1:00", wantErr: "the time is not HH:MM"},
		{in: "+2:00", wantErr: "the time is not HH:MM"},
		{in: "02:00 Mars/Olympus", wantErr: `unknown time zone "Mars/Olympus"`},
		{in: "02:00 Local", wantErr: `unknown time zone "Local"`},
		{in: "02:00 ../../etc/passwd", wantErr: "unknown time zone"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDaily(tc.in)
			if tc.wantErr != "" {
				if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `e.g. "02:00 UTC"`) {
					t.Errorf("ParseDaily(%q) error = %v, want invalid saying %q and how to write it", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Hour != tc.want.Hour || got.Minute != tc.want.Minute || got.Zone.String() != tc.want.Zone.String() {
				t.Errorf("ParseDaily(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestDailyNext(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name  string
		at    Daily
		after time.Time
		want  time.Time
	}{
		{"later today", Daily{2, 0, time.UTC}, utc("2026-03-10T01:59:59Z"), utc("2026-03-10T02:00:00Z")},
		{"exactly at the time: tomorrow", Daily{2, 0, time.UTC}, utc("2026-03-10T02:00:00Z"), utc("2026-03-11T02:00:00Z")},
		{"just after: tomorrow", Daily{2, 0, time.UTC}, utc("2026-03-10T02:00:00.5Z"), utc("2026-03-11T02:00:00Z")},
		{"across a month and a year", Daily{0, 30, time.UTC}, utc("2026-12-31T23:00:00Z"), utc("2027-01-01T00:30:00Z")},
		{"in another zone", Daily{2, 0, ny}, utc("2026-01-15T06:00:00Z"), utc("2026-01-15T07:00:00Z")},
		{"the clock skips 02:30 (DST starts): at 03:30", Daily{2, 30, ny}, utc("2026-03-08T05:00:00Z"), utc("2026-03-08T07:30:00Z")},
		{"the clock shows 01:30 twice (DST ends): once", Daily{1, 30, ny}, utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.at.Next(tc.after); !got.Equal(tc.want) {
				t.Errorf("%v .Next(%v) = %v, want %v", tc.at, tc.after, got.UTC(), tc.want)
			}
		})
	}
}

func TestDailyDue(t *testing.T) {
	d := Daily{2, 0, time.UTC}
	set := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) // scheduled at noon
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{set.Add(time.Hour), false},
		{time.Date(2026, 5, 2, 1, 59, 0, 0, time.UTC), false},
		{time.Date(2026, 5, 2, 2, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 5, 9, 8, 0, 0, 0, time.UTC), true}, // a week down: one run owed
	} {
		if got := d.Due(set, tc.now); got != tc.want {
			t.Errorf("Due(%v, %v) = %v, want %v", set, tc.now, got, tc.want)
		}
	}
	// After the catch-up run, the next is the next 02:00, not seven more.
	ran := time.Date(2026, 5, 9, 8, 0, 0, 0, time.UTC)
	if d.Due(ran, ran.Add(time.Hour)) || !d.Next(ran).Equal(time.Date(2026, 5, 10, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("after a catch-up run at %v, Next = %v", ran, d.Next(ran))
	}
}

func FuzzParseDaily(f *testing.F) {
	for _, s := range []string{"02:00 UTC", "2:30", "23:59 Europe/Paris", "24:00", "x", "1:2:3", "07:05 America/New_York"} {
		f.Add(s, int64(1_780_000_000))
	}
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		d, err := ParseDaily(s)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("ParseDaily(%q) error %v is not invalid", s, err)
			}
			return
		}
		again, err := ParseDaily(d.String())
		if err != nil || again.String() != d.String() {
			t.Fatalf("ParseDaily(%q).String() = %q does not read back: %v, %v", s, d.String(), again, err)
		}
		after := time.Unix(unix%(1<<36), 0)
		next := d.Next(after)
		if !next.After(after) || next.Sub(after) > 49*time.Hour {
			t.Fatalf("%v .Next(%v) = %v", d, after, next)
		}
	})
}
