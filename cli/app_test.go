package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
	"larder/fault"
)

func TestMainUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{"help", []string{"--help"}, 0, "addons:create", ""},
		{"no args shows help", nil, 0, "COMMANDS:", ""},
		{"command help", []string{"addons:create", "--help"}, 0, "--maxmemory_policy", ""},
		{"help after args", []string{"addons:create", "larder-redis:mini", "-h"}, 0, "Provider options", ""},
		{"help topic", []string{"help", "redis:info"}, 0, "Memory and clients", ""},
		{"unknown command", []string{"bogus"}, exitUsage, "", `"bogus" is not a larder command`},
		{"unknown flag", []string{"config", "-a", "web", "--bogus"}, exitUsage, "", "unknown flag --bogus\nusage: larder config -a APP"},
		{"missing app", []string{"config"}, exitUsage, "", "error: no app given: add -a APP (or set LARDER_APP)\ntry: larder config -a APP"},
		{"missing app keeps args", []string{"addons:create", "larder-redis:mini", "--wait"}, exitUsage, "", "try: larder addons:create larder-redis:mini -a APP"},
		{"redis alias needs app", []string{"redis"}, exitUsage, "", "no app given"},
		{"run without command", []string{"run", "-a", "web"}, exitUsage, "", "no command given\nusage: larder run -a web -- COMMAND"},
		{"run with only dash", []string{"run", "-a", "web", "--"}, exitUsage, "", "no command given"},
		{"config:set without =", []string{"config:set", "FOO", "-a", "web"}, exitUsage, "", `"FOO" is not KEY=VALUE`},
		{"config:set bad name", []string{"config:set", "1FOO=x", "-a", "web"}, exitUsage, "", `invalid config var name "1FOO"`},
		{"config:unset nothing", []string{"config:unset", "-a", "web"}, exitUsage, "", "no config vars given"},
		{"addons:create no plan", []string{"addons:create", "-a", "web"}, exitUsage, "", "no plan given"},
		{"addons:create two plans", []string{"addons:create", "a:b", "c:d", "-a", "web"}, exitUsage, "", `unexpected argument "c:d"`},
		{"addons:create bad policy", []string{"addons:create", "larder-redis:mini", "-a", "web", "--", "--maxmemory_policy", "lru"}, exitError, "", `invalid maxmemory policy "lru"`},
		{"addons:destroy no addon", []string{"addons:destroy", "-a", "web"}, exitUsage, "", "no add-on given"},
		{"addons:info no addon", []string{"addons:info"}, exitUsage, "", "missing argument\nusage: larder addons:info ADDON"},
		{"apps:create no name", []string{"apps:create"}, exitUsage, "", "missing argument"},
		{"apps:destroy two apps", []string{"apps:destroy", "other", "-a", "web"}, exitUsage, "", "two apps given"},
		{"apps:destroy needs confirm", []string{"apps:destroy", "-a", "web"}, exitError, "", "re-run this command with --confirm web"},
		{"apps:destroy wrong confirm", []string{"apps:destroy", "-a", "web", "--confirm", "wbe"}, exitError, "", "Confirmation wbe did not match web. Aborted."},
		{"broker unreachable", []string{"apps"}, exitError, "", "cannot reach the larder broker at http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout: got %q, want it to contain %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut, tt.wantErr)
			}
			if tt.wantCode != 0 && out != "" {
				t.Errorf("stdout: got %q, want nothing on failure", out)
			}
		})
	}
}

func TestLarderAppEnv(t *testing.T) {
	_, errOut, code := runCLI(t, "", "config")
	if code != exitUsage {
		t.Fatalf("without LARDER_APP: got code %d, want %d", code, exitUsage)
	}
	t.Setenv("LARDER_APP", "web")
	var out, errw bytes.Buffer
	code = Main([]string{"larder", "config"}, strings.NewReader(""), &out, &errw)
	if code != exitError || !strings.Contains(errw.String(), "cannot reach") {
		t.Errorf("with LARDER_APP=web: got code %d, stderr %q; want the broker to be asked (first run: %q)", code, errw.String(), errOut)
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		interrupted bool
		want        string
		wantCode    int
	}{
		{"nil", nil, false, "", 0},
		{"fault shows message only", fault.Wrap(fault.NotFound, errors.New("sql: no rows"), "app web not found"), false, "error: app web not found\n", exitError},
		{"wrapped fault", fmt.Errorf("destroy: %w", fault.E(fault.Conflict, "in use")), false, "error: in use\n", exitError},
		{"usage", UsageError("no app given", "try: larder config -a APP"), false, "error: no app given\ntry: larder config -a APP\n", exitUsage},
		{"exit code", cli.Exit("", 3), false, "", 3},
		{"exit message", cli.Exit("cannot run x", 127), false, "error: cannot run x\n", 127},
		{"child's code after Ctrl-C", cli.Exit("", 5), true, "", 5},
		{"interrupted request", fault.Wrap(fault.Unavailable, errors.New("context canceled"), "cannot reach"), true, "error: interrupted\n", exitInterrupted},
		{"interrupted wait", &cmdkit.InterruptedError{Msg: "stopped waiting"}, true, "error: stopped waiting\n", exitInterrupted},
		{"plain error", errors.New("decode broker response: bad json"), false, "error: decode broker response: bad json\n", exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			code := report(&b, tt.err, tt.interrupted)
			if code != tt.wantCode || b.String() != tt.want {
				t.Errorf("report: got (%d, %q), want (%d, %q)", code, b.String(), tt.wantCode, tt.want)
			}
		})
	}
}

func TestExtraCommands(t *testing.T) {
	ran := false
	extra := &cli.Command{Name: "extra-test", Action: func(*cli.Context) error { ran = true; return nil }}
	var out, errw bytes.Buffer
	if code := Main([]string{"larder", "extra-test"}, strings.NewReader(""), &out, &errw, extra); code != 0 || !ran {
		t.Errorf("extra command: got code %d, ran %v, stderr %q; want 0, true", code, ran, errw.String())
	}
}

// TestBrokerURLList: LARDER_API_URL may list several brokers; a bad list is
// refused before anything is sent, saying what is wrong and where it came
// from, without repeating a password.
func TestBrokerURLList(t *testing.T) {
	tests := []struct {
		name, urls, wantErr string
	}{
		{"all unreachable", "http://127.0.0.1:1, http://127.0.0.1:2", "cannot reach any larder broker: http://127.0.0.1:1 (connection refused), http://127.0.0.1:2 (connection refused)"},
		{"empty element", "http://127.0.0.1:1,,http://127.0.0.1:2", "error: invalid broker URL list: element 2 of 3: it is empty (use http://HOST:PORT[,http://HOST:PORT…] with no empty element) (from LARDER_API_URL)"},
		{"not http", "http://127.0.0.1:1,ftp://127.0.0.1:2", `element 2 of 2: scheme "ftp" is not http or https (from LARDER_API_URL)`},
		{"credentials", "http://admin:hunter2@127.0.0.1:1", "http://…@127.0.0.1:1 carries credentials: put the token in LARDER_API_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LARDER_APP", "")
			t.Setenv("LARDER_API_URL", tt.urls)
			t.Setenv("LARDER_API_TOKEN", "test")
			var out, errw bytes.Buffer
			code := Main([]string{"larder", "apps:create", "web"}, strings.NewReader(""), &out, &errw)
			if code != exitError || !strings.Contains(errw.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errw.String(), exitError, tt.wantErr)
			}
			if strings.Contains(errw.String(), "hunter2") {
				t.Errorf("stderr repeats the password: %q", errw.String())
			}
		})
	}
}
