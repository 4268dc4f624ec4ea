package runcmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/internal/testkit"
)

func TestWithVars(t *testing.T) {
	got := withVars([]string{"PATH=/bin", "REDIS_URL=old"}, api.ConfigVars{"REDIS_URL": "redis://new", "A": "1"})
	want := []string{"PATH=/bin", "REDIS_URL=old", "A=1", "REDIS_URL=redis://new"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withVars: got %q, want %q", got, want)
	}
}

func TestRunWithVars(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	t.Setenv("REDIS_URL", "from-the-shell")
	vars := api.ConfigVars{"REDIS_URL": "redis://app", "GREETING": "hi there"}
	tests := []struct {
		name     string
		argv     []string
		stdin    string
		wantOut  string
		wantErr  string
		wantCode int
	}{
		{"vars win over the environment", []string{"sh", "-c", `printf '%s|%s' "$REDIS_URL" "$GREETING"`}, "", "redis://app|hi there", "", 0},
		{"stdin and stderr pass through", []string{"sh", "-c", "cat; echo oops >&2"}, "piped", "piped", "oops\n", 0},
		{"exit code passes through", []string{"sh", "-c", "exit 3"}, "", "", "", 3},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, "", "", "", 128 + 15},
		{"not found", []string{"larder-no-such-program"}, "", "", "", 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			s := &cmdkit.Session{Stdin: strings.NewReader(tt.stdin), Stdout: &out, Stderr: &errw}
			err := runWithVars(s, tt.argv, vars)
			code := 0
			var ec cli.ExitCoder
			if errors.As(err, &ec) {
				code = ec.ExitCode()
			} else if err != nil {
				t.Fatalf("runWithVars: got %v, want an exit code", err)
			}
			if code != tt.wantCode || out.String() != tt.wantOut || errw.String() != tt.wantErr {
				t.Errorf("runWithVars(%q): got code %d, stdout %q, stderr %q; want %d, %q, %q",
					tt.argv, code, out.String(), errw.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestPollInterval(t *testing.T) {
	tests := []struct {
		name           string
		every          time.Duration
		given, restart bool
		wantErr        string
	}{
		{"default without restart", defaultPollInterval, false, false, ""},
		{"given with restart", 500 * time.Millisecond, true, true, ""},
		{"minimum", minPollInterval, true, true, ""},
		{"too short", 10 * time.Millisecond, true, true, "--poll-interval 10ms is too short: give 100ms or more"},
		{"without restart", time.Second, true, false, "--poll-interval needs --restart-on-change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pollInterval(tt.every, tt.given, tt.restart)
			switch {
			case tt.wantErr == "" && (err != nil || got != tt.every):
				t.Errorf("pollInterval: got %v, %v; want %v", got, err, tt.every)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("pollInterval: got %v, want error %q", err, tt.wantErr)
			}
		})
	}
}

// restartRunner runs argv under a childRunner that polls vars from polls in
// turn (the last one for ever), every millisecond. Each command must print a
// line first: a poll is answered only once every command started so far has
// printed its line, so a change never stops a command before it has spoken.
func restartRunner(t *testing.T, argv []string, polls ...api.ConfigVars) (*childRunner, *testkit.SyncBuffer, *testkit.SyncBuffer, chan os.Signal) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	var out, errw testkit.SyncBuffer
	s := &cmdkit.Session{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errw}
	r := newChildRunner(s, argv)
	sigs := make(chan os.Signal, 1)
	r.sigs, r.every, r.stopWait = sigs, time.Millisecond, 5*time.Second
	var mu sync.Mutex
	starts := 0
	start := r.start
	r.start = func(argv []string, vars api.ConfigVars, group bool) (*exec.Cmd, error) {
		mu.Lock()
		starts++
		mu.Unlock()
		return start(argv, vars, group)
	}
	r.poll = func(context.Context) (api.ConfigVars, error) {
		mu.Lock()
		defer mu.Unlock()
		for deadline := time.Now().Add(10 * time.Second); strings.Count(out.String(), "\n") < starts; {
			if time.Now().After(deadline) {
				t.Errorf("command %d printed nothing within 10s", starts)
				break
			}
			time.Sleep(time.Millisecond)
		}
		v := polls[0]
		if len(polls) > 1 {
			polls = polls[1:]
		}
		if v == nil {
			return nil, errors.New("cannot reach the larder broker")
		}
		return v, nil
	}
	return r, &out, &errw, sigs
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	t.Fatalf("got %v, want an exit code", err)
	return -1
}

func TestRunRestartsOnChange(t *testing.T) {
	// The first command waits to be stopped; the second, with V=2, exits 3.
	argv := []string{"sh", "-c", `echo "run V=$V"; if [ "$V" = 2 ]; then exit 3; fi; exec sleep 30`}
	r, out, errw, _ := restartRunner(t, argv,
		api.ConfigVars{"V": "1"}, nil, nil, api.ConfigVars{"V": "1"}, api.ConfigVars{"V": "2"})
	start := time.Now()
	code := exitCode(t, r.run(context.Background(), api.ConfigVars{"V": "1"}))
	if code != 3 {
		t.Errorf("exit code: got %d, want the second command's 3", code)
	}
	if got, want := out.String(), "run V=1\nrun V=2\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
	wantErr := "cannot check config vars: cannot reach the larder broker; sh keeps running\n" + // said once for two failures
		"config vars changed; restarting " + strings.Join(argv, " ") + "\n"
	if got := errw.String(); got != wantErr {
		t.Errorf("stderr:\n got %q\nwant %q", got, wantErr)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v: the first command was not stopped by SIGTERM", d)
	}
}

func TestRunRestartKillsAStubbornCommand(t *testing.T) {
	argv := []string{"sh", "-c", `trap '' TERM; echo "run V=$V"; if [ "$V" = 2 ]; then exit 0; fi; while :; do sleep 0.05; done`}
	r, out, _, _ := restartRunner(t, argv, api.ConfigVars{"V": "2"})
	r.stopWait = 200 * time.Millisecond
	if code := exitCode(t, r.run(context.Background(), api.ConfigVars{"V": "1"})); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	if got, want := out.String(), "run V=1\nrun V=2\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
}

// TestRunRestartStopsTheWholeGroup: a restart stops everything the old
// command started, even a child that ignores SIGTERM and outlives its parent
// (it gets SIGKILL after the grace period), and so does the command's own exit.
func TestRunRestartStopsTheWholeGroup(t *testing.T) {
	argv := []string{"sh", "-c", `(trap '' TERM; exec sleep 1000) & echo "run V=$V $!"; if [ "$V" = 2 ]; then exit 0; fi; wait`}
	r, out, _, _ := restartRunner(t, argv, api.ConfigVars{"V": "2"})
	r.stopWait = 300 * time.Millisecond
	if code := exitCode(t, r.run(context.Background(), api.ConfigVars{"V": "1"})); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout: got %q, want a line from each of the two commands", out.String())
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pid, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("stdout line %q names no pid", line)
		}
		if running(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("%s: its background child %d still runs after larder run returned", line, pid)
		}
	}
}

// running reports whether pid is a process that has not exited (a zombie
// waiting to be reaped has).
func running(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	i := bytes.LastIndexByte(data, ')')
	return i > 0 && i+2 < len(data) && data[i+2] != 'Z' && data[i+2] != 'X'
}

func TestRunRestartPassesSignalsAndEnds(t *testing.T) {
	argv := []string{"sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`}
	r, out, _, sigs := restartRunner(t, argv, api.ConfigVars{})
	done := make(chan error, 1)
	go func() { done <- r.run(context.Background(), api.ConfigVars{}) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "ready") {
		if time.Now().After(deadline) {
			t.Fatal("the command did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if code := exitCode(t, err); code != 7 {
			t.Errorf("exit code: got %d, want the command's 7", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not end after SIGTERM")
	}
	if !strings.Contains(out.String(), "got TERM") {
		t.Errorf("stdout: got %q, want the command to have seen SIGTERM", out.String())
	}
}
