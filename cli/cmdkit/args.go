package cmdkit

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/fault"
)

// AppFlag is -a/--app, taken from $LARDER_APP when not given.
func AppFlag() cli.Flag {
	return &cli.StringFlag{Name: "app", Aliases: []string{"a"}, EnvVars: []string{"LARDER_APP"},
		Usage: "the app to run the command against"}
}

// JSONFlag is --json, for scripts.
func JSONFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "print stable JSON instead of text"}
}

// ConfirmFlag is --confirm APP, which skips the typed confirmation.
func ConfirmFlag() cli.Flag {
	return &cli.StringFlag{Name: "confirm", Aliases: []string{"c"}, Usage: "the app's name, to skip the confirmation prompt"}
}

// RequireApp returns the app named by -a or $LARDER_APP, or a usage error that
// shows the command again with -a.
func RequireApp(c *cli.Context) (string, error) {
	if app := c.String("app"); app != "" {
		if err := api.CheckName(api.AppName, app); err != nil {
			return "", UsageError(fault.Message(err), "try: "+exampleWithApp(c))
		}
		return app, nil
	}
	return "", UsageError("no app given: add -a APP (or set LARDER_APP)", "try: "+exampleWithApp(c))
}

// AppArg starts a command that acts on one named thing of an app: it reads
// -a APP and the one argument, a name of kind ("" for any text), then finds
// the broker.
func (s *Session) AppArg(c *cli.Context, usage string, kind api.NameKind) (app, arg string, cl *api.Client, err error) {
	if app, err = RequireApp(c); err != nil {
		return "", "", nil, err
	}
	a, err := ExactArgs(c, 1, usage)
	if err != nil {
		return "", "", nil, err
	}
	if kind != "" {
		if err := CheckArg(usage, kind, a[0]); err != nil {
			return "", "", nil, err
		}
	}
	cl, err = s.Client()
	return app, a[0], cl, err
}

// CheckArg refuses an argument that is not a valid name of kind, with the
// rule, before anything is sent (the broker checks the same rules).
func CheckArg(usage string, kind api.NameKind, v string) error {
	if err := api.CheckName(kind, v); err != nil {
		return Usagef(usage, "%s", fault.Message(err))
	}
	return nil
}

// exampleWithApp is the command line the user typed, with -a APP added.
func exampleWithApp(c *cli.Context) string {
	parts := append([]string{"larder", c.Command.Name}, Args(c)...)
	return strings.Join(append(parts, "-a", "APP"), " ")
}

// Args returns the command's arguments without the "--" the user may have
// typed before them.
func Args(c *cli.Context) []string {
	before, after, _ := SplitDash(c.Args().Slice())
	return append(append([]string{}, before...), after...)
}

// ExactArgs returns the command's arguments when there are n of them, and a
// usage error showing usage otherwise.
func ExactArgs(c *cli.Context, n int, usage string) ([]string, error) {
	a := Args(c)
	switch {
	case len(a) < n:
		return nil, Usagef(usage, "missing argument")
	case len(a) > n:
		return nil, Usagef(usage, "unexpected argument %q", a[n])
	}
	return a, nil
}

// ConfirmApp makes sure the user means to act on app, Heroku's way: --confirm
// must name it, or, on a terminal, the user types its name after warning.
// Without a terminal and without --confirm it refuses: a script must say so.
func ConfirmApp(in io.Reader, interactive bool, out io.Writer, app, given, warning string) error {
	if given == "" {
		if !interactive {
			return fault.E(fault.Confirmation, "%s. To proceed, re-run this command with --confirm %s", warning, app)
		}
		fmt.Fprintf(out, " ▸    WARNING: %s.\n ▸    To proceed, type %s or re-run this command with --confirm %s\n\n> ", warning, app, app)
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return fault.E(fault.Confirmation, "no confirmation given. Aborted.")
		}
		given = strings.TrimSpace(line)
	}
	if given != app {
		return fault.E(fault.Confirmation, "Confirmation %s did not match %s. Aborted.", given, app)
	}
	return nil
}

// SplitDash splits a command's arguments at the first "--" the user typed.
func SplitDash(args []string) (before, after []string, dash bool) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:], true
		}
	}
	return args, nil, false
}
