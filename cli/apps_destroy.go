package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
)

func appsDestroyCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder apps:destroy -a APP [--confirm APP]"
	return &cli.Command{
		Name:      "apps:destroy",
		Category:  "apps",
		Usage:     "permanently destroy an app",
		UsageText: usage,
		Description: "Destroy the app and its config vars. An app that still owns add-ons is not\n" +
			"destroyed: destroy them first with `larder addons:destroy`.\n\n" +
			"On a terminal you are asked to type the app's name; elsewhere pass --confirm APP.",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.ConfirmFlag()},
		Action: func(c *cli.Context) error {
			app, err := appOrArg(c, usage)
			if err != nil {
				return err
			}
			warning := fmt.Sprintf("This will delete ⬢ %s and its config vars", app)
			if err := cmdkit.ConfirmApp(s.Stdin, s.Interactive, s.Stderr, app, c.String("confirm"), warning); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			sp := s.StartSpinner(fmt.Sprintf("Destroying ⬢ %s", app))
			return sp.FinishErr(cl.DestroyApp(c.Context, app))
		},
	}
}

// appOrArg returns the app named by -a or, as Heroku allows for
// apps:destroy, by the one argument.
func appOrArg(c *cli.Context, usage string) (string, error) {
	a := cmdkit.Args(c)
	flag := c.String("app")
	switch {
	case len(a) > 1:
		return "", cmdkit.Usagef(usage, "unexpected argument %q", a[1])
	case len(a) == 1 && flag != "" && flag != a[0]:
		return "", cmdkit.Usagef(usage, "two apps given: %s and %s", flag, a[0])
	case len(a) == 1:
		return a[0], nil
	}
	return cmdkit.RequireApp(c)
}
