package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
)

const addonsUpgradeUsage = "larder addons:upgrade ADDON SERVICE:PLAN -a APP [--no-wait]"

func addonsUpgradeCommand(s *session) *cli.Command {
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
			appFlag(),
			&cli.BoolFlag{Name: "no-wait", Usage: "return once the change has started"},
		},
		Action: func(c *cli.Context) error {
			app, err := requireApp(c)
			if err != nil {
				return err
			}
			a, err := exactArgs(c, 2, addonsUpgradeUsage)
			if err != nil {
				return err
			}
			if err := checkArg(addonsUpgradeUsage, api.AddonRef, a[0]); err != nil {
				return err
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			sp := startSpinner(s.stderr, s.stderrTTY, fmt.Sprintf("Changing %s on ⬢ %s to %s", a[0], app, a[1]))
			res, err := cl.UpgradeAddon(c.Context, app, a[0], a[1])
			if err != nil {
				return sp.finishErr(err)
			}
			if c.Bool("no-wait") || res.Operation == nil {
				sp.finish("started")
				_, err = fmt.Fprintf(s.stdout, "%s is moving to %s in the background. Run larder addons:info %s -a %s to check.\n", res.Addon.Name, a[1], res.Addon.Name, app)
				return err
			}
			if _, err := waitOperation(c.Context, cl, res.Addon.Name, res.Operation, sp, "changed"); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.stdout, "%s is now on %s\n", res.Addon.Name, a[1])
			return err
		},
	}
}
