package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func configGetCommand(s *session) *cli.Command {
	const usage = "larder config:get KEY -a APP [--shell]"
	return &cli.Command{
		Name:      "config:get",
		Category:  "config",
		Usage:     "print one config var's value",
		UsageText: usage,
		Description: "Prints the value alone, for scripts: REDIS_URL=$(larder config:get REDIS_URL -a web).\n" +
			"A var that is not set prints an empty line, as on Heroku.",
		Flags: []cli.Flag{appFlag(), shellFlag()},
		Action: func(c *cli.Context) error {
			app, key, cl, err := s.appArg(c, usage, "")
			if err != nil {
				return err
			}
			vars, err := cl.ConfigVars(c.Context, app)
			if err != nil {
				return err
			}
			if c.Bool("shell") {
				return writeShellVars(s.stdout, api.ConfigVars{key: vars[key]})
			}
			_, err = fmt.Fprintln(s.stdout, vars[key])
			return err
		},
	}
}
