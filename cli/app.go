// Package cli is larder's command line: the Heroku-style commands users type
// (`larder addons:create larder-redis:mini -a web`), one file per command.
//
// Commands talk to the broker only through api.Client, found lazily with
// api.ResolveClient so that `--help` and usage errors work with no broker.
// All IO goes through the streams given to NewApp: data on stdout, progress
// and errors on stderr.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/fault"
)

// Exit codes besides a command's own (run passes its child's through).
const (
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// Main runs the larder command line with args (args[0] is the program name)
// and returns the process exit code. extra are commands beside the users'
// (the server roles, from package daemon).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...*cli.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := NewApp(stdin, stdout, stderr, extra...)
	err := app.RunContext(ctx, normalizeArgs(app, args))
	return report(stderr, err, ctx.Err() != nil)
}

// NewApp builds the command line app writing to stdout and stderr, with the
// users' commands and extra.
func NewApp(stdin io.Reader, stdout, stderr io.Writer, extra ...*cli.Command) *cli.App {
	s := &session{
		stdin:       stdin,
		stdout:      stdout,
		stderr:      stderr,
		interactive: isTerminal(stdin),
		stderrTTY:   isTerminal(stderr),
		newClient:   api.ResolveClient,
	}
	commands := []*cli.Command{
		appsCommand(s),
		appsCreateCommand(s),
		appsDestroyCommand(s),
		addonsCommand(s),
		addonsCreateCommand(s),
		addonsInfoCommand(s),
		addonsDestroyCommand(s),
		addonsUpgradeCommand(s),
		addonsPlansCommand(s),
		addonsServicesCommand(s),
		addonsAttachCommand(s),
		addonsDetachCommand(s),
		addonsEventsCommand(s),
		configCommand(s),
		configGetCommand(s),
		configSetCommand(s),
		configUnsetCommand(s),
		runCommand(s),
		redisInfoCommand(s),
		redisCLICommand(s),
		redisCredentialsCommand(s),
		redisAllowlistCommand(s),
		redisTLSOnlyCommand(s),
		redisKeyspaceNotificationsCommand(s),
		redisMaxmemoryCommand(s),
		redisPromoteCommand(s),
		redisTimeoutCommand(s),
		redisWaitCommand(s),
		redisFailoverCommand(s),
		redisFollowCommand(s),
		redisUnfollowCommand(s),
		hostsCommand(s),
		hostsDrainCommand(s),
		hostsUndrainCommand(s),
		monitorsCommand(s),
	}
	commands = append(commands, extra...)
	for _, c := range commands {
		if c.OnUsageError == nil {
			c.OnUsageError = onUsageError
		}
	}
	return &cli.App{
		Name:      "larder",
		Usage:     "Redis/Valkey add-ons for your apps, Heroku style",
		UsageText: "larder COMMAND [flags] [args]",
		Description: "Create an app, give it a Redis add-on and read its config vars:\n\n" +
			"   larder apps:create web\n" +
			"   larder addons:create larder-redis:mini -a web --wait\n" +
			"   larder config -a web\n" +
			"   larder run -a web -- env",
		Commands:       commands,
		Reader:         stdin,
		Writer:         stdout,
		ErrWriter:      stderr,
		HideVersion:    true,
		OnUsageError:   onUsageError,
		ExitErrHandler: func(*cli.Context, error) {}, // Main reports errors; urfave's handler would os.Exit
		Action:         rootAction,
	}
}

// session is what every command shares: the streams and the broker client.
type session struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	interactive    bool // stdin is a terminal a person can type a confirmation into
	stderrTTY      bool // stderr is a terminal, so spinners may animate

	newClient func() (*api.Client, error)
	once      sync.Once
	cl        *api.Client
	clErr     error
}

// client returns the broker client, resolving it on first use.
func (s *session) client() (*api.Client, error) {
	s.once.Do(func() { s.cl, s.clErr = s.newClient() })
	return s.cl, s.clErr
}

func rootAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return UsageError(fmt.Sprintf("%q is not a larder command", c.Args().First()), "see: larder help")
	}
	return cli.ShowAppHelp(c)
}

// onUsageError turns urfave's flag errors into usage errors.
func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "unknown flag " + flagText(name)
	}
	if c.Command != nil && c.Command.UsageText != "" {
		return Usagef(c.Command.UsageText, "%s", msg)
	}
	return UsageError(msg, "see: larder help")
}

// flagText spells a flag name as users type it: -a, --app.
func flagText(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// badUsage is a mistake in how a command was typed; hint says what to type.
type badUsage struct {
	msg, hint string
}

func (e *badUsage) Error() string { return e.msg }

// UsageError reports a usage mistake, msg, with what to type instead.
func UsageError(msg, hint string) error { return &badUsage{msg: msg, hint: hint} }

// Usagef is usageError with a formatted message and the command's usage line.
func Usagef(usage, format string, args ...any) error {
	return UsageError(fmt.Sprintf(format, args...), "usage: "+usage)
}

// interruptedError ends a command the user stopped, saying what carries on.
type interruptedError struct{ msg string }

func (e *interruptedError) Error() string { return e.msg }

// report prints err for a user and returns the exit code it deserves.
func report(w io.Writer, err error, interrupted bool) int {
	if err == nil {
		return 0
	}
	var (
		ue *badUsage
		ie *interruptedError
		ec cli.ExitCoder
	)
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(w, "error: %s\n", ue.msg)
		if ue.hint != "" {
			fmt.Fprintln(w, ue.hint)
		}
		return exitUsage
	case errors.As(err, &ie):
		fmt.Fprintf(w, "error: %s\n", ie.msg)
		return exitInterrupted
	case errors.As(err, &ec):
		// A command's own code, such as run's child's after Ctrl-C, stands.
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(w, "error: %s\n", msg)
		}
		return ec.ExitCode()
	case interrupted:
		// The broker may still answer "cannot reach": the cancelled request is why.
		fmt.Fprintln(w, "error: interrupted")
		return exitInterrupted
	}
	fmt.Fprintf(w, "error: %s\n", errorText(err))
	return exitError
}

// errorText is what a user is told of err: a fault's public message, without
// its internal cause; any other error is a local failure (decoding an answer,
// writing output) on the user's own machine, so it is said as it is.
func errorText(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}
