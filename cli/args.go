package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// argsInOrder names the commands whose first argument starts another program's
// command line (`larder run -a web ls -la`): flags after it are that program's.
var argsInOrder = map[string]bool{"run": true}

// normalizeArgs lets flags follow arguments, as Heroku's CLI does
// (`larder addons:create larder-redis:mini -a web --wait`), although urfave/cli
// v2 stops reading flags at the first argument. It moves the command's flags in
// front of its arguments and puts a "--" between them, so an argument that
// starts with a dash stays an argument. A "--" the user typed stays where it
// was among the arguments: commands read what follows it themselves
// (provider options of addons:create, the program of run).
func normalizeArgs(app *cli.App, args []string) []string {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if args[i] == "--" {
			return args
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	out := append([]string{}, args[:i+1]...)
	rest := reorder(args[i+1:], valueFlags(cmd.Flags), argsInOrder[cmd.Name])
	if asksHelp(rest) {
		// urfave would take the arguments for a help topic: show the command's help.
		return append(out, "--help")
	}
	return append(out, rest...)
}

// asksHelp reports whether reordered args hold a help flag among the flags.
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help", "-help":
			return true
		}
	}
	return false
}

// valueFlags returns the names of the flags that take a value.
func valueFlags(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		if df, ok := f.(cli.DocGenerationFlag); ok && df.TakesValue() {
			for _, n := range f.Names() {
				m[n] = true
			}
		}
	}
	return m
}

// reorder returns args with flags first, then "--" and the positional
// arguments (the user's own "--" among them, in place). With inOrder the first
// positional argument ends the flags.
func reorder(args []string, takesValue map[string]bool, inOrder bool) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || inOrder && !isFlag(a) {
			rest = append(rest, args[i:]...)
			break
		}
		if !isFlag(a) {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if len(rest) == 0 {
		return flags
	}
	return append(append(flags, "--"), rest...)
}

// isFlag reports whether a looks like a flag; a lone "-" is an argument.
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }
