package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

const configSetUsage = "larder config:set KEY=VALUE... -a APP"

func configSetCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "config:set",
		Category:  "config",
		Usage:     "set one or more config vars",
		UsageText: configSetUsage,
		Description: "Names are letters, digits and underscores, not starting with a digit.\n" +
			"Quote values with spaces: larder config:set GREETING='hello world' -a web.\n" +
			"Add-on vars (REDIS_URL) belong to their add-on and cannot be set.",
		Flags: []cli.Flag{cmdkit.AppFlag()},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			set, keys, err := parseAssignments(cmdkit.Args(c))
			if err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			patch := api.ConfigPatch{}
			for k, v := range set {
				patch[k] = &v
			}
			vars, err := patchConfig(c.Context, s, cl, app, patch, "Setting", keys)
			if err != nil {
				return err
			}
			shown := api.ConfigVars{}
			for _, k := range keys {
				shown[k] = vars[k]
			}
			return writeVars(s.Stdout, shown)
		},
	}
}

// patchConfig applies patch on app, showing `Setting KEYS on ⬢ app... done`.
func patchConfig(ctx context.Context, s *cmdkit.Session, cl *api.Client, app string, patch api.ConfigPatch, verb string, keys []string) (api.ConfigVars, error) {
	sp := s.StartSpinner(fmt.Sprintf("%s %s on ⬢ %s", verb, strings.Join(keys, ", "), app))
	vars, err := cl.PatchConfigVars(ctx, app, patch)
	return vars, sp.FinishErr(err)
}

// varName is compiled on first use: every larder command would pay for it at start.
var varName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// checkVarName returns a usage error for a name a shell could not export.
func checkVarName(name, usage string) error {
	if !varName().MatchString(name) {
		return cmdkit.Usagef(usage, "invalid config var name %q: use letters, digits and underscores, not starting with a digit", name)
	}
	return nil
}

// parseAssignments reads KEY=VALUE arguments. A later KEY wins; keys lists
// each name once, in the order first given.
func parseAssignments(args []string) (set map[string]string, keys []string, err error) {
	if len(args) == 0 {
		return nil, nil, cmdkit.Usagef(configSetUsage, "no config vars given: use KEY=VALUE")
	}
	set = map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, nil, cmdkit.Usagef(configSetUsage, "%q is not KEY=VALUE", a)
		}
		if err := checkVarName(k, configSetUsage); err != nil {
			return nil, nil, err
		}
		if _, seen := set[k]; !seen {
			keys = append(keys, k)
		}
		set[k] = v
	}
	return set, keys, nil
}
