package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func appsCreateCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder apps:create NAME [--json]"
	return &cli.Command{
		Name:      "apps:create",
		Category:  "apps",
		Usage:     "create an app",
		UsageText: usage,
		Description: "An app is a name that add-ons attach to and that holds config vars.\n" +
			"Use lowercase letters, digits and dashes, e.g. `larder apps:create web`.",
		Flags: []cli.Flag{cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			a, err := cmdkit.ExactArgs(c, 1, usage)
			if err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			sp := s.StartSpinner(fmt.Sprintf("Creating ⬢ %s", a[0]))
			app, err := cl.CreateApp(c.Context, a[0])
			if err := sp.FinishErr(err); err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, app)
			}
			return nil
		},
	}
}
