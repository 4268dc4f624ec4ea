// Package runcmd is `larder run`: it runs a local command with an app's
// config vars in its environment and passes its exit code on. With
// --restart-on-change it follows the app's changes on the broker and, when
// the vars change, stops the command with every process it started (its
// process group) and starts it again, as a platform restarts a dyno.
package runcmd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/fault"
)

const runUsage = "larder run -a APP [--restart-on-change [--poll-interval 2s]] -- COMMAND [ARGS...]"

const (
	defaultPollInterval = 2 * time.Second
	minPollInterval     = 100 * time.Millisecond
)

// Command is `larder run`.
func Command(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Category:  "config",
		Usage:     "run a local command with the app's config vars in its environment",
		UsageText: runUsage,
		Description: "Runs COMMAND here, with REDIS_URL and the app's other config vars added to\n" +
			"your environment, and exits with its exit code:\n\n" +
			"   larder run -a web -- env\n" +
			"   larder run -a web -- sh -c 'redis-cli -u \"$REDIS_URL\" info server'\n\n" +
			"With --restart-on-change, larder follows the app's changes on the broker;\n" +
			"when its config vars change (redis:promote, redis:credentials --reset, config:set),\n" +
			"COMMAND is stopped with every process it started (its process group gets\n" +
			"SIGTERM, then SIGKILL after 10s) and started again with the new ones, as a\n" +
			"platform restarts a dyno. It runs in a process group of its own, so it\n" +
			"cannot read the terminal:\n\n" +
			"   larder run --restart-on-change -a web -- ./worker\n\n" +
			"Flags go before COMMAND; everything after it is COMMAND's.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.BoolFlag{Name: "restart-on-change", Usage: "restart COMMAND when the app's config vars change"},
			&cli.DurationFlag{Name: "poll-interval", Value: defaultPollInterval,
				Usage: "with --restart-on-change, how often to check the config vars when the broker's change feed cannot be followed (at least 100ms)"},
		},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			argv := c.Args().Slice()
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return cmdkit.Usagef(fmt.Sprintf("larder run -a %s -- COMMAND [ARGS...]", app), "no command given")
			}
			restart := c.Bool("restart-on-change")
			every, err := pollInterval(c.Duration("poll-interval"), c.IsSet("poll-interval"), restart)
			if err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			vars, err := cl.ConfigVars(c.Context, app)
			if err != nil {
				return err
			}
			r := newChildRunner(s, argv)
			if restart {
				r.poll = func(ctx context.Context) (api.ConfigVars, error) { return cl.ConfigVars(ctx, app) }
				r.every = every
				r.changes = func(ctx context.Context, cursor int64, wait time.Duration) (api.ChangeBatch, error) {
					return cl.Changes(ctx, app, cursor, wait)
				}
			}
			return r.run(c.Context, vars)
		},
	}
}

// pollInterval checks --poll-interval, which only means something with
// --restart-on-change.
func pollInterval(every time.Duration, given, restart bool) (time.Duration, error) {
	switch {
	case given && !restart:
		return 0, cmdkit.Usagef(runUsage, "--poll-interval needs --restart-on-change")
	case every < minPollInterval:
		return 0, cmdkit.Usagef(runUsage, "--poll-interval %s is too short: give %s or more", every, minPollInterval)
	}
	return every, nil
}

// runWithVars runs argv once with vars, as larder run does without
// --restart-on-change.
func runWithVars(s *cmdkit.Session, argv []string, vars api.ConfigVars) error {
	return newChildRunner(s, argv).run(context.Background(), vars)
}

// startChild starts argv with vars added to this process's environment and
// the session's streams. With group, the command leads a process group of
// its own, so that larder can stop it with everything it started. Failing to
// start is exit code 127 (not found) or 126, as shells report.
func startChild(s *cmdkit.Session, argv []string, vars api.ConfigVars, group bool) (*exec.Cmd, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	cmd.Env = withVars(os.Environ(), vars)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
	// A grandchild left holding the output pipes must not keep Wait from returning.
	cmd.WaitDelay = childWaitDelay
	if err := cmd.Start(); err != nil {
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return nil, cli.Exit(fmt.Sprintf("cannot run %s: %v", argv[0], err), code)
	}
	return cmd, nil
}

// withVars returns env with vars appended in a fixed order; exec keeps the
// last value of a repeated name, so the app's vars win.
func withVars(env []string, vars api.ConfigVars) []string {
	out := append([]string{}, env...)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// exitStatus turns a child's end into this command's: its exit code, or
// 128+N when signal N killed it, as shells report.
func exitStatus(err error) error {
	if err == nil || errors.Is(err, exec.ErrWaitDelay) { // exited 0; a grandchild kept the pipes
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fault.Wrap(fault.Internal, err, "the command could not be waited for")
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return cli.Exit("", 128+int(ws.Signal()))
	}
	return cli.Exit("", ee.ExitCode())
}
