package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/fault"
)

// appFlag is -a/--app, taken from $LARDER_APP when not given.
func appFlag() cli.Flag {
	return &cli.StringFlag{Name: "app", Aliases: []string{"a"}, EnvVars: []string{"LARDER_APP"},
		Usage: "the app to run the command against"}
}

// jsonFlag is --json, for scripts.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "print stable JSON instead of text"}
}

// confirmFlag is --confirm APP, which skips the typed confirmation.
func confirmFlag() cli.Flag {
	return &cli.StringFlag{Name: "confirm", Aliases: []string{"c"}, Usage: "the app's name, to skip the confirmation prompt"}
}

// requireApp returns the app named by -a or $LARDER_APP, or a usage error that
// shows the command again with -a.
func requireApp(c *cli.Context) (string, error) {
	if app := c.String("app"); app != "" {
		if err := api.CheckName(api.AppName, app); err != nil {
			return "", UsageError(fault.Message(err), "try: "+exampleWithApp(c))
		}
		return app, nil
	}
	return "", UsageError("no app given: add -a APP (or set LARDER_APP)", "try: "+exampleWithApp(c))
}

// appArg starts a command that acts on one named thing of an app: it reads
// -a APP and the one argument, a name of kind ("" for any text), then finds
// the broker.
func (s *session) appArg(c *cli.Context, usage string, kind api.NameKind) (app, arg string, cl *api.Client, err error) {
	if app, err = requireApp(c); err != nil {
		return "", "", nil, err
	}
	a, err := exactArgs(c, 1, usage)
	if err != nil {
		return "", "", nil, err
	}
	if kind != "" {
		if err := checkArg(usage, kind, a[0]); err != nil {
			return "", "", nil, err
		}
	}
	cl, err = s.client()
	return app, a[0], cl, err
}

// checkArg refuses an argument that is not a valid name of kind, with the
// rule, before anything is sent (the broker checks the same rules).
func checkArg(usage string, kind api.NameKind, v string) error {
	if err := api.CheckName(kind, v); err != nil {
		return Usagef(usage, "%s", fault.Message(err))
	}
	return nil
}

// exampleWithApp is the command line the user typed, with -a APP added.
func exampleWithApp(c *cli.Context) string {
	parts := append([]string{"larder", c.Command.Name}, args(c)...)
	return strings.Join(append(parts, "-a", "APP"), " ")
}

// args returns the command's arguments without the "--" the user may have
// typed before them.
func args(c *cli.Context) []string {
	before, after, _ := splitDash(c.Args().Slice())
	return append(append([]string{}, before...), after...)
}

// exactArgs returns the command's arguments when there are n of them, and a
// usage error showing usage otherwise.
func exactArgs(c *cli.Context, n int, usage string) ([]string, error) {
	a := args(c)
	switch {
	case len(a) < n:
		return nil, Usagef(usage, "missing argument")
	case len(a) > n:
		return nil, Usagef(usage, "unexpected argument %q", a[n])
	}
	return a, nil
}

// confirmApp makes sure the user means to act on app, Heroku's way: --confirm
// must name it, or, on a terminal, the user types its name after warning.
// Without a terminal and without --confirm it refuses: a script must say so.
func confirmApp(in io.Reader, interactive bool, out io.Writer, app, given, warning string) error {
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

// printJSON prints v indented, the stable form scripts read.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// isTerminal reports whether v is a terminal. It checks for a character
// device, which is portable and needs no ioctl; /dev/null is one too, but
// nobody types into it.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// waitOperation polls op on addon until it ends, showing its progress on sp,
// and finishes sp. doing says what goes on in the background ("created") if
// the user stops waiting with Ctrl-C.
func waitOperation(ctx context.Context, cl *api.Client, addon string, op *api.Operation, sp *spinner, doing string) (api.Operation, error) {
	got, err := cl.WaitOperation(ctx, op.ID, 500*time.Millisecond, func(o api.Operation) { sp.setStatus(o.Progress) })
	if err != nil && ctx.Err() != nil {
		sp.finish("interrupted")
		return got, &interruptedError{fmt.Sprintf("stopped waiting; %s is still being %s in the background. Run larder addons:info %s to check progress.",
			addon, doing, addon)}
	}
	return got, sp.finishErr(err)
}
