package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

func configGetCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder config:get KEY -a APP [--shell]"
	return &cli.Command{
		Name:      "config:get",
		Category:  "config",
		Usage:     "print one config var's value",
		UsageText: usage,
		Description: "Prints the value alone, for scripts: REDIS_URL=$(larder config:get REDIS_URL -a web).\n" +
			"A var that is not set prints an empty line, as on Heroku.",
		Flags: []cli.Flag{cmdkit.AppFlag(), shellFlag()},
		Action: func(c *cli.Context) error {
			app, key, cl, err := s.AppArg(c, usage, "")
			if err != nil {
				return err
			}
			vars, err := cl.ConfigVars(c.Context, app)
			if err != nil {
				return err
			}
			if c.Bool("shell") {
				return writeShellVars(s.Stdout, api.ConfigVars{key: vars[key]})
			}
			_, err = fmt.Fprintln(s.Stdout, vars[key])
			return err
		},
	}
}
