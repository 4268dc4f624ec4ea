package runcmd

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"larder/api"
	"larder/cli/cmdkit"
)

const (
	childStopWait  = 10 * time.Second // SIGTERM, then this long, then SIGKILL
	childWaitDelay = time.Second      // after the child exits, for its output to drain
	pollTimeout    = 30 * time.Second // one config vars request
)

// childRunner runs larder run's command and, when poll is set, restarts it
// whenever the app's config vars change, as a platform restarts a dyno.
type childRunner struct {
	argv     []string
	start    func(argv []string, vars api.ConfigVars, group bool) (*exec.Cmd, error)
	poll     func(context.Context) (api.ConfigVars, error) // nil: run once
	changes  cmdkit.ChangesFunc                            // nil: poll every `every`
	every    time.Duration                                 // between polls
	stopWait time.Duration                                 // SIGTERM to SIGKILL
	sigs     <-chan os.Signal                              // nil: SIGINT and SIGTERM of this process
	notes    io.Writer                                     // restarts and poll failures
}

func newChildRunner(s *cmdkit.Session, argv []string) *childRunner {
	start := func(argv []string, vars api.ConfigVars, group bool) (*exec.Cmd, error) {
		return startChild(s, argv, vars, group)
	}
	return &childRunner{argv: argv, start: start, every: defaultPollInterval, stopWait: childStopWait, notes: s.Stderr}
}

// run starts the command with vars and returns how it ended: its own exit, or
// after a signal, which is passed on. Without poll, every signal is passed on
// and the command decides when to end (a REPL survives Ctrl-C); with poll,
// the first signal ends the run, with SIGKILL after stopWait if need be.
func (r *childRunner) run(ctx context.Context, vars api.ConfigVars) error {
	sigs := r.sigs
	if sigs == nil {
		// Registered before the start, so that no signal falls between the two.
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	// Restarts stop the whole group the command leads; a plain run leaves the
	// command in larder's group, where a REPL can read the terminal.
	group := r.poll != nil
	cmd, err := r.start(r.argv, vars, group)
	if err != nil {
		return err
	}
	exited := waitChild(cmd)
	var tick <-chan struct{}
	if r.poll != nil {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		tick = r.watch(ctx)
	}
	lastErr := ""
	for {
		select {
		case err := <-exited:
			if group {
				r.endGroup(cmd.Process.Pid, time.Now().Add(r.stopWait))
			}
			return exitStatus(err)
		case sig := <-sigs:
			if s, ok := sig.(syscall.Signal); ok && group {
				_ = syscall.Kill(-cmd.Process.Pid, s)
			} else {
				_ = cmd.Process.Signal(sig)
			}
			if group {
				return exitStatus(r.stop(cmd, exited, nil))
			}
		case <-tick:
			next, err := r.pollOnce(ctx)
			if err != nil {
				// Said once per distinct failure: a broker restart is not a flood.
				if msg := cmdkit.ErrorText(err); ctx.Err() == nil && msg != lastErr {
					fmt.Fprintf(r.notes, "cannot check config vars: %s; %s keeps running\n", msg, r.argv[0])
					lastErr = msg
				}
				continue
			}
			lastErr = ""
			if maps.Equal(vars, next) {
				continue
			}
			fmt.Fprintf(r.notes, "config vars changed; restarting %s\n", strings.Join(r.argv, " "))
			r.stop(cmd, exited, syscall.SIGTERM)
			vars = next
			if cmd, err = r.start(r.argv, vars, group); err != nil {
				return err
			}
			exited = waitChild(cmd)
		}
	}
}

// watch wakes the run when the config vars may have changed: on the app's
// change feed when there is one, else every r.every.
func (r *childRunner) watch(ctx context.Context) <-chan struct{} {
	if r.changes != nil {
		return cmdkit.FollowChanges(ctx, r.changes, r.every, r.notes)
	}
	wake := make(chan struct{})
	go func() {
		t := time.NewTicker(r.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case wake <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return wake
}

func (r *childRunner) pollOnce(ctx context.Context) (api.ConfigVars, error) {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	return r.poll(ctx)
}

// stop ends the command, which leads its own process group (run with
// --restart-on-change): sig (none if nil) goes to the whole group; within
// stopWait the command must exit and every other process of the group with
// it, else what is left gets SIGKILL. It returns how the command ended.
func (r *childRunner) stop(cmd *exec.Cmd, exited <-chan error, sig os.Signal) error {
	pgid := cmd.Process.Pid
	deadline := time.Now().Add(r.stopWait)
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(-pgid, s)
	}
	t := time.NewTimer(r.stopWait)
	defer t.Stop()
	var err error
	select {
	case err = <-exited:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		err = <-exited // bounded: the process is gone and WaitDelay caps the pipes
	}
	r.endGroup(pgid, deadline)
	return err
}

// endGroup waits until deadline for the rest of process group pgid (what
// the command left running: `sleep 1000 &`) to exit after the signal it was
// sent, then kills what is left. Nothing of an old command outlives it.
func (r *childRunner) endGroup(pgid int, deadline time.Time) {
	if !groupAlive(pgid) {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM) // a command that exited alone sent none
	waitGroupGone(pgid, deadline)
	if syscall.Kill(-pgid, syscall.SIGKILL) == nil {
		// SIGKILL is delivered at once but the processes end a moment later.
		waitGroupGone(pgid, time.Now().Add(time.Second))
	}
}

func waitGroupGone(pgid int, deadline time.Time) {
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // no event says a group emptied: look again shortly
	}
}

// waitChild waits for cmd in the background; the channel gets Wait's error.
func waitChild(cmd *exec.Cmd) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	return ch
}
