package cli

import (
	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

const configUnsetUsage = "larder config:unset KEY... -a APP"

func configUnsetCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:        "config:unset",
		Category:    "config",
		Usage:       "unset one or more config vars",
		UsageText:   configUnsetUsage,
		Description: "Add-on vars (REDIS_URL) go with their attachment: use addons:destroy instead.",
		Flags:       []cli.Flag{cmdkit.AppFlag()},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			keys, err := parseUnset(cmdkit.Args(c))
			if err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			patch := api.ConfigPatch{}
			for _, k := range keys {
				patch[k] = nil
			}
			_, err = patchConfig(c.Context, s, cl, app, patch, "Unsetting", keys)
			return err
		},
	}
}

// parseUnset checks the names to unset.
func parseUnset(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, cmdkit.Usagef(configUnsetUsage, "no config vars given")
	}
	for _, k := range args {
		if err := checkVarName(k, configUnsetUsage); err != nil {
			return nil, err
		}
	}
	return args, nil
}
