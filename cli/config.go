package cli

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func configCommand(s *session) *cli.Command {
	const usage = "larder config -a APP [--json | --shell]"
	return &cli.Command{
		Name:      "config",
		Category:  "config",
		Usage:     "show an app's config vars, add-on vars included",
		UsageText: usage,
		Description: "The values hold credentials (REDIS_URL carries the password): mind where you paste them.\n" +
			"--shell prints KEY=value lines you can eval or use as a .env file.",
		Flags: []cli.Flag{appFlag(), jsonFlag(), shellFlag()},
		Action: func(c *cli.Context) error {
			app, err := requireApp(c)
			if err != nil {
				return err
			}
			if _, err := exactArgs(c, 0, usage); err != nil {
				return err
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			vars, err := cl.ConfigVars(c.Context, app)
			if err != nil {
				return err
			}
			switch {
			case c.Bool("json"):
				return printJSON(s.stdout, vars)
			case c.Bool("shell"):
				return writeShellVars(s.stdout, vars)
			}
			if err := writeHeader(s.stdout, app+" Config Vars"); err != nil {
				return err
			}
			return writeVars(s.stdout, vars)
		},
	}
}

func shellFlag() cli.Flag {
	return &cli.BoolFlag{Name: "shell", Aliases: []string{"s"}, Usage: "print KEY=value lines, quoted for a shell"}
}

// writeVars prints vars as aligned `KEY: value` rows, sorted by name.
func writeVars(w io.Writer, vars api.ConfigVars) error {
	var f fields
	for _, k := range sortedKeys(vars) {
		f.add(k, vars[k])
	}
	return f.write(w)
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

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes v for a POSIX shell when it needs it, so that
// `eval "$(larder config -a web --shell)"` sets exactly the values.
func shellQuote(v string) string {
	if shellSafe.MatchString(v) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
