package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"larder/api"
)

// TestRestartOnChangeFollowsTheFeed: `larder run --restart-on-change` learns
// of a config:set from the broker's change feed, not from its polling: with
// polling an hour apart it still restarts the command with the new vars, and
// says nothing about falling back.
func TestRestartOnChangeFollowsTheFeed(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	out := filepath.Join(t.TempDir(), "seen")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, larderBin, "run", "--restart-on-change", "--poll-interval", "1h", "-a", "web", "--",
		"sh", "-c", `echo "$GREETING" >> `+out+`; exec sleep 30`)
	cmd.Env = append(baseEnv(b.Home), "LARDER_API_URL="+b.URL, "LARDER_API_TOKEN="+b.Token)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // the command's sleep keeps the pipe open
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := func() []string {
		data, _ := os.ReadFile(out)
		return strings.Fields(string(data))
	}
	WaitFor(t, 10*time.Second, "first start", func() error {
		if data, err := os.ReadFile(out); err != nil || len(data) == 0 {
			return fmt.Errorf("not started")
		}
		return nil
	})
	for _, v := range []string{"hello", "bonjour"} {
		b.MustLarder("config:set", "GREETING="+v, "-a", "web")
		WaitFor(t, 15*time.Second, "restart with GREETING="+v, func() error {
			if l := lines(); len(l) == 0 || l[len(l)-1] != v {
				return fmt.Errorf("seen %v", l)
			}
			return nil
		})
	}
	if s := stderr.String(); strings.Contains(s, "cannot follow") {
		t.Errorf("run fell back to polling: %s", s)
	}
}

// sseEvent is one server-sent event of the change stream.
type sseEvent struct {
	id, kind string
	change   api.Change
}

// readStream reads server-sent events from the app's change stream, from
// lastID (empty: from now on), into the channel until the body ends.
func readStream(t *testing.T, ctx context.Context, b *Broker, app, lastID string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.URL+"/apps/"+app+"/changes", nil)
	req.Header.Set("Authorization", "Bearer "+b.Token)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		s := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for s.Scan() {
			line := s.Text()
			switch {
			case line == "":
				if ev.kind != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.change)
			}
		}
	}()
	return ch
}

// nextEvent waits for the next event of the stream.
func nextEvent(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
	}
	return sseEvent{}
}

// TestChangeStreamResumesAfterRestart: an app's change stream delivers each
// change once, in order; after the broker restarts, a client resuming from
// its last event id gets what changed meanwhile and what comes after,
// nothing missed and nothing repeated.
func TestChangeStreamResumesAfterRestart(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := readStream(t, ctx, b, "web", "")
	b.MustLarder("config:set", "A=1", "-a", "web")
	b.MustLarder("config:set", "B=1", "-a", "web")
	var seen []sseEvent
	for len(seen) < 2 {
		seen = append(seen, nextEvent(t, first))
	}
	b.Stop()
	for range first { // the broker's stop ends the stream
	}
	b.Start()
	b.MustLarder("config:set", "C=1", "-a", "web") // while nobody listens
	second := readStream(t, ctx, b, "web", seen[len(seen)-1].id)
	b.MustLarder("config:set", "D=1", "-a", "web")
	for len(seen) < 4 {
		seen = append(seen, nextEvent(t, second))
	}
	var subjects []string
	for i, ev := range seen {
		if ev.kind != "change" || ev.change.Kind != api.ChangeConfig || ev.id != fmt.Sprint(ev.change.Seq) {
			t.Fatalf("event %d: %+v", i, ev)
		}
		if i > 0 && ev.change.Seq <= seen[i-1].change.Seq {
			t.Fatalf("events out of order or repeated: %+v", seen)
		}
		subjects = append(subjects, ev.change.Subject)
	}
	if got := strings.Join(subjects, " "); got != "A B C D" {
		t.Fatalf("changes %q, want A B C D once each", got)
	}
	select {
	case ev := <-second:
		if ev.kind != "" {
			t.Fatalf("an extra event: %+v", ev)
		}
	default:
	}
}
