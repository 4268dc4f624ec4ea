package backup

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zone names work without the system's zoneinfo

	"larder/fault"
)

// Daily is a backup schedule: every day at a time of day in a zone.
type Daily struct {
	Hour, Minute int
	Zone         *time.Location
}

// ParseDaily reads "HH:MM [ZONE]": "02:00 UTC", "2:30", "23:15
// Europe/Paris". The zone defaults to UTC.
func ParseDaily(s string) (Daily, error) {
	bad := func(why string) (Daily, error) {
		return Daily{}, fault.E(fault.Invalid, `schedule %q: %s; write the time as HH:MM [ZONE], e.g. "02:00 UTC"`, truncate(s), why)
	}
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 2 {
		return bad("want a time of day and at most a zone")
	}
	hh, mm, ok := strings.Cut(fields[0], ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return bad("the time is not HH:MM")
	}
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	switch {
	case herr != nil || merr != nil || hh[0] == '+' || hh[0] == '-' || mm[0] == '+' || mm[0] == '-':
		return bad("the time is not HH:MM")
	case h > 23:
		return bad("the hour must be 00-23")
	case m > 59:
		return bad("the minute must be 00-59")
	}
	d := Daily{Hour: h, Minute: m, Zone: time.UTC}
	if len(fields) == 2 {
		z := fields[1]
		switch {
		case strings.EqualFold(z, "UTC"), strings.EqualFold(z, "GMT"), z == "Z":
		case z == "Local" || strings.HasPrefix(z, "/") || strings.Contains(z, ".."):
			return bad(fmt.Sprintf("unknown time zone %q", truncate(z)))
		default:
			loc, err := time.LoadLocation(z)
			if err != nil {
				return bad(fmt.Sprintf("unknown time zone %q", truncate(z)))
			}
			d.Zone = loc
		}
	}
	return d, nil
}

// String renders the schedule as ParseDaily reads it.
func (d Daily) String() string {
	return fmt.Sprintf("%02d:%02d %s", d.Hour, d.Minute, d.zone())
}

func (d Daily) zone() *time.Location {
	if d.Zone == nil {
		return time.UTC
	}
	return d.Zone
}

// Next is the first run strictly after after, at most one a day: on a day
// whose clock shows the time twice (DST ends), a run at the first is not
// followed by one at the second; on a day whose clock skips it (DST
// starts), the run is at the time the clock shows after the skip.
func (d Daily) Next(after time.Time) time.Time {
	t := after.In(d.zone())
	next := d.on(t.Year(), t.Month(), t.Day())
	passed := t.Hour() > d.Hour || t.Hour() == d.Hour && t.Minute() >= d.Minute
	if passed || !next.After(after) {
		next = d.on(t.Year(), t.Month(), t.Day()+1)
	}
	return next
}

// on is the schedule's time on a day. A time the clock skips comes out of
// time.Date before the skip or after it; it is moved after.
func (d Daily) on(y int, m time.Month, day int) time.Time {
	at := time.Date(y, m, day, d.Hour, d.Minute, 0, 0, d.zone())
	want, got := d.Hour*60+d.Minute, at.Hour()*60+at.Minute()
	if got < want {
		at = at.Add(time.Duration(want-got) * time.Minute)
	}
	return at
}

// Due says whether a run is owed at now, when the last one ran (or the
// schedule was set) at last: runs missed while nothing was watching make
// one run, not one per missed day.
func (d Daily) Due(last, now time.Time) bool {
	return !now.Before(d.Next(last))
}
