package httpapi

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/api"
	"larder/engine"
	"larder/fault"
	"larder/internal/testkit"
)

// TestLogs: an app's logs hold its add-on's node lines and events, in time
// order and Heroku's format, filtered by source and bounded by lines; a tail
// wakes with a new node line and a new event; a password never shows; bad
// input gets a clear error; a client that goes frees its waiter.
func TestLogs(t *testing.T) {
	b, c := feedBroker(t, nil)
	ctx := context.Background()
	added := miniOn(t, c, "web")
	a, err := b.Store().AddonByName(ctx, added.Name)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{a.AdminPassword, a.CustomerPassword}
	noSecret := func(lines []api.LogLine) {
		t.Helper()
		for _, l := range lines {
			for _, s := range secrets {
				if s != "" && strings.Contains(l.String(), s) {
					t.Fatalf("line %q holds a password", l)
				}
			}
		}
	}

	all, err := c.Logs(ctx, "web", api.LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	noSecret(all.Lines)
	if !has(all.Lines, "redis[REDIS]: * Ready to accept connections") || !has(all.Lines, "larder[REDIS]: ") {
		t.Fatalf("logs = %s, want the node's startup and the add-on's events", text(all.Lines))
	}
	for i := 1; i < len(all.Lines); i++ {
		if all.Lines[i].At.Before(all.Lines[i-1].At) {
			t.Errorf("line %d (%s) is before the one above it", i, all.Lines[i])
		}
	}
	if got := all.Lines[0].String(); !strings.HasPrefix(got, all.Lines[0].At.UTC().Format("2006-01-02T15:04:05")+"+00:00 ") {
		t.Errorf("line = %q, want Heroku's time stamp first", got)
	}
	for _, tc := range []struct {
		q    api.LogQuery
		want func(api.LogLine) bool
		n    int
	}{
		{api.LogQuery{Source: "redis"}, func(l api.LogLine) bool { return l.Source == "redis" && l.Role == "primary" }, 0},
		{api.LogQuery{Source: "larder"}, func(l api.LogLine) bool { return l.Source == "larder" && l.Addon == a.Name }, 0},
		{api.LogQuery{Lines: 2}, func(api.LogLine) bool { return true }, 2},
	} {
		got, err := c.Logs(ctx, "web", tc.q)
		if err != nil || len(got.Lines) == 0 || (tc.n > 0 && len(got.Lines) != tc.n) {
			t.Errorf("Logs(%+v) = %s, %v; want %d lines", tc.q, text(got.Lines), err, tc.n)
			continue
		}
		for _, l := range got.Lines {
			if !tc.want(l) {
				t.Errorf("Logs(%+v) has %+v", tc.q, l)
			}
		}
	}
	if got, _ := c.Logs(ctx, "web", api.LogQuery{Lines: 2}); text(got.Lines) != text(all.Lines[len(all.Lines)-2:]) {
		t.Errorf("Logs(lines 2) = %s, want the last two of %s", text(got.Lines), text(all.Lines))
	}

	// A tail: a quiet wait ends empty; a node's new line wakes it, then an
	// event does.
	quiet, err := c.Logs(ctx, "web", api.LogQuery{Cursor: all.Cursor, Wait: 50 * time.Millisecond})
	if err != nil || len(quiet.Lines) != 0 {
		t.Fatalf("quiet tail = %s, %v; want nothing", text(quiet.Lines), err)
	}
	nodes, err := b.Store().NodesOfAddon(ctx, a.ID)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes = %+v, %v", nodes, err)
	}
	admin := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(nodes[0].Address, strconv.Itoa(nodes[0].Port)),
		Username: engine.AdminUser, Password: a.AdminPassword, MaxRetries: -1})
	defer admin.Close()
	cur := quiet.Cursor
	for _, step := range []struct {
		do   func() error
		want string
	}{
		{func() error { return admin.Save(ctx).Err() }, "redis[REDIS]: * DB saved on disk"},
		{func() error {
			policy := "allkeys-lru"
			_, err := c.UpdateSettings(ctx, "web", a.Name, api.SettingsPatch{MaxMemoryPolicy: &policy})
			return err
		}, "larder[REDIS]: "},
	} {
		got := tail(t, b.Changes.Waiters, c, cur, step.do)
		if !has(got.Lines, step.want) {
			t.Fatalf("tail = %s, want %q", text(got.Lines), step.want)
		}
		noSecret(got.Lines)
		cur = got.Cursor
	}

	// A client that goes frees its waiter.
	gone, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := c.Logs(gone, "web", api.LogQuery{Cursor: cur, Wait: 30 * time.Second})
		done <- err
	}()
	waitWaiters(t, b.Changes.Waiters, 1)
	cancel()
	<-done
	waitWaiters(t, b.Changes.Waiters, 0)

	checkBadGets(t, c, []badGet{
		{"/apps/nope/logs", fault.NotFound, "nope"},
		{"/apps/web/logs?lines=0x", fault.Invalid, "lines"},
		{"/apps/web/logs?lines=-1", fault.Invalid, "1 to 1500"},
		{"/apps/web/logs?lines=1501", fault.Invalid, "1 to 1500"},
		{"/apps/web/logs?source=app", fault.Invalid, "use redis"},
		{"/apps/web/logs?cursor=%7B", fault.Invalid, "cursor"},
		{"/apps/web/logs?wait=soon", fault.Invalid, "wait"},
	})
}

// tail waits on the logs after cursor, does what should wake it once the
// wait has begun, and returns what the wait answered.
func tail(t *testing.T, waiters func() int, c *api.Client, cursor string, do func() error) api.LogBatch {
	t.Helper()
	type answer struct {
		b   api.LogBatch
		err error
	}
	got := make(chan answer, 1)
	go func() {
		b, err := c.Logs(context.Background(), "web", api.LogQuery{Cursor: cursor, Wait: 30 * time.Second})
		got <- answer{b, err}
	}()
	waitWaiters(t, waiters, 1)
	if err := do(); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	return a.b
}

func waitWaiters(t *testing.T, waiters func() int, n int) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, func() error {
		if w := waiters(); w != n {
			return fmt.Errorf("%d waiters, want %d", w, n)
		}
		return nil
	})
}

func has(lines []api.LogLine, part string) bool {
	return strings.Contains(text(lines), part)
}

func text(lines []api.LogLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}
