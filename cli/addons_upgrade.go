package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

const addonsUpgradeUsage = "larder addons:upgrade ADDON SERVICE:PLAN -a APP [--no-wait]"

func addonsUpgradeCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "addons:upgrade",
		Aliases:   []string{"addons:downgrade"},
		Category:  "add-ons",
		Usage:     "move an add-on to another plan, live, keeping its data",
		UsageText: addonsUpgradeUsage,
		Description: "Applies the plan's memory, connection and persistence limits to the running\n" +
			"add-on without a restart: every key stays and the app stays connected.\n" +
			"A downgrade is refused, with the figures, when the data would not fit the\n" +
			"smaller plan with headroom.\n\n" +
			"   larder addons:upgrade REDIS larder-redis:premium-0 -a web",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.BoolFlag{Name: "no-wait", Usage: "return once the change has started"},
		},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			a, err := cmdkit.ExactArgs(c, 2, addonsUpgradeUsage)
			if err != nil {
				return err
			}
			if err := cmdkit.CheckArg(addonsUpgradeUsage, api.AddonRef, a[0]); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			sp := s.StartSpinner(fmt.Sprintf("Changing %s on ⬢ %s to %s", a[0], app, a[1]))
			res, err := cl.UpgradeAddon(c.Context, app, a[0], a[1])
			if err != nil {
				return sp.FinishErr(err)
			}
			if c.Bool("no-wait") || res.Operation == nil {
				sp.Finish("started")
				_, err = fmt.Fprintf(s.Stdout, "%s is moving to %s in the background. Run larder addons:info %s -a %s to check.\n", res.Addon.Name, a[1], res.Addon.Name, app)
				return err
			}
			if _, err := cmdkit.WaitOperation(c.Context, cl, res.Addon.Name, res.Operation, sp, "changed"); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "%s is now on %s\n", res.Addon.Name, a[1])
			return err
		},
	}
}
