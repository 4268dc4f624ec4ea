package cli

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func configCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder config -a APP [--json | --shell]"
	return &cli.Command{
		Name:      "config",
		Category:  "config",
		Usage:     "show an app's config vars, add-on vars included",
		UsageText: usage,
		Description: "The values hold credentials (REDIS_URL carries the password): mind where you paste them.\n" +
			"--shell prints KEY=value lines you can eval or use as a .env file.",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag(), shellFlag()},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			if _, err := cmdkit.ExactArgs(c, 0, usage); err != nil {
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
			switch {
			case c.Bool("json"):
				return ui.PrintJSON(s.Stdout, vars)
			case c.Bool("shell"):
				return writeShellVars(s.Stdout, vars)
			}
			if err := ui.WriteHeader(s.Stdout, app+" Config Vars"); err != nil {
				return err
			}
			return writeVars(s.Stdout, vars)
		},
	}
}

func shellFlag() cli.Flag {
	return &cli.BoolFlag{Name: "shell", Aliases: []string{"s"}, Usage: "print KEY=value lines, quoted for a shell"}
}

// writeVars prints vars as aligned `KEY: value` rows, sorted by name.
func writeVars(w io.Writer, vars api.ConfigVars) error {
	var f ui.Fields
	for _, k := range sortedKeys(vars) {
		f.Add(k, vars[k])
	}
	return f.Write(w)
}

// writeShellVars prints vars as KEY=value lines, sorted by name.
func writeShellVars(w io.Writer, vars api.ConfigVars) error {
	var b strings.Builder
	for _, k := range sortedKeys(vars) {
		fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(vars[k]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(vars api.ConfigVars) []string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shellSafe is compiled on first use: every larder command would pay for it at start.
var shellSafe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`) })

// shellQuote quotes v for a POSIX shell when it needs it, so that
// `eval "$(larder config -a web --shell)"` sets exactly the values.
func shellQuote(v string) string {
	if shellSafe().MatchString(v) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
