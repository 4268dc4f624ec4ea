package logs

import (
	"strings"
	"testing"
	"time"

	"larder/api"
	"larder/fault"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in    Query
		lines int
		wait  time.Duration
		bad   string
	}{
		{in: Query{}, lines: api.DefaultLogLines},
		{in: Query{Lines: 1500, Source: "redis", Wait: time.Hour}, lines: 1500, wait: api.MaxWait},
		{in: Query{Lines: 7, Source: "larder"}, lines: 7},
		{in: Query{Lines: -1}, bad: "1 to 1500"},
		{in: Query{Lines: 1501}, bad: "1 to 1500"},
		{in: Query{Source: "app"}, bad: "use redis"},
		{in: Query{Wait: -time.Second}, bad: "negative"},
	} {
		q := tc.in
		err := check(&q)
		switch {
		case tc.bad != "" && (fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("check(%+v) = %v, want Invalid saying %q", tc.in, err, tc.bad)
		case tc.bad == "" && (err != nil || q.Lines != tc.lines || q.Wait != tc.wait):
			t.Errorf("check(%+v) = %+v, %v; want %d lines, wait %s", tc.in, q, err, tc.lines, tc.wait)
		}
	}
}

func TestCursor(t *testing.T) {
	c := cursor{Feed: 42, Event: 7, Nodes: map[string]mark{"n1": {Off: 1234}, "n2": {Off: -1, Failing: true}}}
	got, err := decodeCursor(c.encode())
	if err != nil || got.Feed != 42 || got.Event != 7 || got.Nodes["n1"] != c.Nodes["n1"] || got.Nodes["n2"] != c.Nodes["n2"] {
		t.Errorf("decodeCursor(encode(%+v)) = %+v, %v", c, got, err)
	}
	for _, bad := range []string{"{", "%%%", "eyJmIjotMX0", strings.Repeat("A", maxCursor+1)} {
		if _, err := decodeCursor(bad); fault.KindOf(err) != fault.Invalid {
			t.Errorf("decodeCursor(%.20q) error = %v, want Invalid", bad, err)
		}
	}
}
