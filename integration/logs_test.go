package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"larder/api"
)

// TestLogs: `larder logs -a web` shows the add-on's node's startup lines and
// its events in Heroku's format; `larder logs -t` shows a new event and a
// node's new lines (a restart after a crash) as they come, woken by the
// broker rather than at the end of its 30 s long-poll; no password shows.
func TestLogs(t *testing.T) {
	b := NewBroker(t)
	b.MustLarder("apps:create", "web")
	b.MustLarder("addons:create", "larder-redis:mini", "-a", "web", "--wait")
	var addons []api.Addon
	if err := json.Unmarshal([]byte(b.MustLarder("addons", "-a", "web", "--json").Stdout), &addons); err != nil || len(addons) != 1 {
		t.Fatalf("addons --json: %v, %+v", err, addons)
	}
	u, err := url.Parse(strings.TrimSpace(b.MustLarder("config:get", "REDIS_URL", "-a", "web").Stdout))
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	noPassword := func(out string) {
		t.Helper()
		if password == "" || strings.Contains(out, password) {
			t.Fatalf("the logs hold the app's password (%q)", password)
		}
	}

	out := b.MustLarder("logs", "-a", "web").Stdout
	noPassword(out)
	for _, want := range []string{"redis[REDIS]: * Ready to accept connections", "larder[REDIS]: addon.provisioned"} {
		if !strings.Contains(out, want) {
			t.Errorf("larder logs = %s\nwant a line with %q", out, want)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if _, err := time.Parse("2006-01-02T15:04:05-07:00", strings.Fields(l)[0]); err != nil || !strings.Contains(l, "+00:00 ") {
			t.Errorf("line %q does not start with Heroku's UTC time stamp", l)
		}
	}
	if only := b.MustLarder("logs", "-a", "web", "-s", "larder", "-n", "1").Stdout; strings.Count(only, "\n") != 1 || !strings.Contains(only, "larder[REDIS]") {
		t.Errorf("larder logs -s larder -n 1 = %q, want one event", only)
	}
	if r := b.Larder("logs", "-a", "nope"); r.Code == 0 || !strings.Contains(r.Stderr, "nope") {
		t.Errorf("larder logs -a nope: exit %d, %q; want an error naming the app", r.Code, r.Stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, larderBin, "logs", "-t", "-n", "1", "-a", "web")
	cmd.Env = append(baseEnv(b.Home), "LARDER_API_URL="+b.URL, "LARDER_API_TOKEN="+b.Token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// next waits for a line with want. The tail's requests wait 30 s on
	// the broker: a line sooner than half that was woken by the change.
	next := func(want string, start time.Time) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("larder logs -t ended; stderr: %s", stderr.String())
				}
				noPassword(l)
				if strings.Contains(l, want) {
					t.Logf("%q shown %s after the step", want, time.Since(start).Round(time.Millisecond))
					return
				}
			case <-deadline:
				t.Fatalf("larder logs -t showed no line with %q; stderr: %s", want, stderr.String())
			}
		}
	}
	next("]: ", time.Now()) // the first read's line; what comes after it is the tail's
	step := time.Now()
	b.MustLarder("redis:maxmemory", "-a", "web", "--policy", "allkeys-lru")
	next("larder[REDIS]: ", step)

	pids, _ := filepath.Glob(filepath.Join(b.DataDir, "nodes", addons[0].Name+"-*", "node.pid"))
	if len(pids) != 1 {
		t.Fatalf("node pidfiles %v, want one", pids)
	}
	pid, ok := readPID(pids[0])
	if !ok {
		t.Fatal("no pid")
	}
	step = time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next("redis[REDIS]: * Ready to accept connections", step)
	if s := stderr.String(); s != "" {
		t.Errorf("larder logs -t said %q", s)
	}
}
