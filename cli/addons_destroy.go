package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/fault"
)

func addonsDestroyCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder addons:destroy ADDON... -a APP [--confirm APP] [--force] [--wait=false]"
	return &cli.Command{
		Name:      "addons:destroy",
		Category:  "add-ons",
		Usage:     "permanently destroy an add-on and its data",
		UsageText: usage,
		Description: "Destroy add-ons the app owns, with their data, attachments and config vars.\n" +
			"On a terminal you are asked to type the app's name; elsewhere pass --confirm APP.\n" +
			"An add-on also attached to other apps needs --force.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			cmdkit.ConfirmFlag(),
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "destroy even if attached to other apps"},
			&cli.BoolFlag{Name: "wait", Value: true, Usage: "wait until the add-on is gone (--wait=false to return at once)"},
		},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			refs := cmdkit.Args(c)
			if len(refs) == 0 {
				return cmdkit.Usagef(usage, "no add-on given: name it, e.g. larder addons:destroy REDIS -a %s", app)
			}
			for _, ref := range refs {
				if err := cmdkit.CheckArg(usage, api.AddonRef, ref); err != nil {
					return err
				}
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			// Resolve them all before asking, so the user confirms what exists.
			var addons []api.Addon
			for _, ref := range refs {
				a, err := cl.Addon(c.Context, app, ref)
				if err != nil {
					return err
				}
				if a.App.Name != app {
					return fault.E(fault.Invalid, "%s is on ⬢ %s not ⬢ %s", a.Name, a.App.Name, app)
				}
				addons = append(addons, a)
			}
			warning := fmt.Sprintf("This will destroy %s on ⬢ %s and its data", addonNames(addons), app)
			if err := cmdkit.ConfirmApp(s.Stdin, s.Interactive, s.Stderr, app, c.String("confirm"), warning); err != nil {
				return err
			}
			req := api.AddonDestroy{Confirm: app, Force: c.Bool("force")}
			for _, a := range addons {
				if err := destroyAddon(c.Context, s, cl, app, a.Name, req, c.Bool("wait")); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func destroyAddon(ctx context.Context, s *cmdkit.Session, cl *api.Client, app, name string, req api.AddonDestroy, wait bool) error {
	sp := s.StartSpinner(fmt.Sprintf("Destroying %s on ⬢ %s", name, app))
	res, err := cl.DestroyAddon(ctx, app, name, req)
	if err != nil {
		sp.Finish("failed")
		return err
	}
	op := res.Operation
	switch {
	case op == nil:
		sp.Finish("done")
		if res.Message != "" {
			fmt.Fprintln(s.Stdout, res.Message)
		}
	case op.State == api.OpSucceeded:
		sp.Finish("done")
	case op.State == api.OpFailed:
		sp.Finish("failed")
		return fault.E(fault.Unavailable, "The add-on was unable to be destroyed: %s.", op.Error)
	case wait:
		if _, err := cmdkit.WaitOperation(ctx, cl, name, op, sp, "destroyed"); err != nil {
			return err
		}
	default:
		sp.Finish("pending")
		_, err := fmt.Fprintf(s.Stdout, "%s is being destroyed in the background.\nRun larder addons:info %s to check destruction progress.\n", name, name)
		return err
	}
	return nil
}

func addonNames(addons []api.Addon) string {
	var names []string
	for _, a := range addons {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}
