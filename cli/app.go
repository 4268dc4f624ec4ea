// Package cli is larder's command line: the Heroku-style commands users type
// (`larder addons:create larder-redis:mini -a web`), one file per command.
//
// NewApp lists every command. The apps:*, addons:*, config:* and hosts
// commands live here; the others live in sub-packages, one idea each:
// rediscmd (the redis:* commands), rediscli (redis:cli's session) and runcmd
// (larder run). All are built with cmdkit (the session, flags, arguments,
// usage errors, waiting on the broker) and show things with ui (spinner,
// tables, JSON).
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
	"syscall"

	"github.com/urfave/cli/v2"

	"larder/cli/backupcmd"
	"larder/cli/cmdkit"
	"larder/cli/rediscli"
	"larder/cli/rediscmd"
	"larder/cli/runcmd"
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
	s := cmdkit.NewSession(stdin, stdout, stderr)
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
		logsCommand(s),
		configCommand(s),
		configGetCommand(s),
		configSetCommand(s),
		configUnsetCommand(s),
		runcmd.Command(s),
		rediscmd.Info(s),
		rediscmd.Metrics(s),
		rediscli.Command(s),
		rediscmd.Credentials(s),
		rediscmd.Allowlist(s),
		rediscmd.TLSOnly(s),
		rediscmd.KeyspaceNotifications(s),
		rediscmd.Maxmemory(s),
		rediscmd.Promote(s),
		rediscmd.Timeout(s),
		rediscmd.Wait(s),
		rediscmd.Failover(s),
		rediscmd.Follow(s),
		rediscmd.Unfollow(s),
		backupcmd.List(s),
		backupcmd.Capture(s),
		backupcmd.Info(s),
		backupcmd.Download(s),
		backupcmd.Delete(s),
		backupcmd.Schedule(s),
		backupcmd.Unschedule(s),
		backupcmd.Restore(s),
		brokersCommand(s),
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

// UsageError reports a usage mistake, msg, with what to type instead. It is
// cmdkit.UsageError, here for the server roles' commands (package daemon).
func UsageError(msg, hint string) error { return cmdkit.UsageError(msg, hint) }

// Usagef is UsageError with a formatted message and the command's usage line
// (cmdkit.Usagef).
func Usagef(usage, format string, args ...any) error {
	return cmdkit.Usagef(usage, format, args...)
}

// report prints err for a user and returns the exit code it deserves.
func report(w io.Writer, err error, interrupted bool) int {
	if err == nil {
		return 0
	}
	var (
		ue *cmdkit.BadUsage
		ie *cmdkit.InterruptedError
		ec cli.ExitCoder
	)
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(w, "error: %s\n", ue.Msg)
		if ue.Hint != "" {
			fmt.Fprintln(w, ue.Hint)
		}
		return exitUsage
	case errors.As(err, &ie):
		fmt.Fprintf(w, "error: %s\n", ie.Msg)
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
	fmt.Fprintf(w, "error: %s\n", cmdkit.ErrorText(err))
	return exitError
}
