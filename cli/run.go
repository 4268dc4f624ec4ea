package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/fault"
)

const runUsage = "larder run -a APP -- COMMAND [ARGS...]"

func runCommand(s *session) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Category:  "config",
		Usage:     "run a local command with the app's config vars in its environment",
		UsageText: runUsage,
		Description: "Runs COMMAND here, with REDIS_URL and the app's other config vars added to\n" +
			"your environment, and exits with its exit code:\n\n" +
			"   larder run -a web -- env\n" +
			"   larder run -a web -- sh -c 'redis-cli -u \"$REDIS_URL\" info server'\n\n" +
			"Flags go before COMMAND; everything after it is COMMAND's.",
		Flags: []cli.Flag{appFlag()},
		Action: func(c *cli.Context) error {
			app, err := requireApp(c)
			if err != nil {
				return err
			}
			argv := c.Args().Slice()
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return usagef(fmt.Sprintf("larder run -a %s -- COMMAND [ARGS...]", app), "no command given")
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			vars, err := cl.ConfigVars(c.Context, app)
			if err != nil {
				return err
			}
			return s.runWithVars(argv, vars)
		},
	}
}

// runWithVars runs argv with vars added to this process's environment and
// the session's streams, passing SIGINT and SIGTERM on, and returns an exit
// error carrying the child's exit code.
func (s *session) runWithVars(argv []string, vars api.ConfigVars) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = withVars(os.Environ(), vars)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.stdin, s.stdout, s.stderr

	// Register before starting so that no signal falls between the two.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return cli.Exit(fmt.Sprintf("cannot run %s: %v", argv[0], err), code)
	}
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case sig := <-sigs:
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	<-forwarded
	return exitStatus(err)
}

// withVars returns env with vars appended in a fixed order; exec keeps the
// last value of a repeated name, so the app's vars win.
func withVars(env []string, vars api.ConfigVars) []string {
	out := append([]string{}, env...)
	for _, k := range sortedKeys(vars) {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// exitStatus turns a child's end into this command's: its exit code, or
// 128+N when signal N killed it, as shells report.
func exitStatus(err error) error {
	if err == nil {
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
