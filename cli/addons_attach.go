package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/fault"
)

func addonsAttachCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder addons:attach ADDON -a APP [--as NAME] [--confirm APP]"
	return &cli.Command{
		Name:      "addons:attach",
		Category:  "add-ons",
		Usage:     "give another app config vars for an existing add-on",
		UsageText: usage,
		Description: "Shares ADDON (an add-on name, or OWNER::ATTACHMENT such as web::REDIS) with\n" +
			"APP. --as names the attachment and so its vars (--as CACHE gives CACHE_URL);\n" +
			"without it the first Redis of APP is REDIS, later ones get a colored name.\n\n" +
			"   larder addons:attach web::REDIS -a worker\n\n" +
			"Reusing a name APP already has replaces that attachment: you are asked to\n" +
			"type APP's name, or pass --confirm APP.",
		Flags: []cli.Flag{
			cmdkit.AppFlag(),
			&cli.StringFlag{Name: "as", Usage: "the attachment name, the prefix of its config vars"},
			cmdkit.ConfirmFlag(),
		},
		Action: func(c *cli.Context) error {
			app, arg, cl, err := s.AppArg(c, usage, api.AddonRef)
			if err != nil {
				return err
			}
			// Resolved first, so the progress line names the add-on as Heroku's does.
			addon, err := cl.Addon(c.Context, app, arg)
			if err != nil {
				return err
			}
			req := api.AttachmentCreate{Addon: addon.Name, App: app, Name: c.String("as"), Confirm: c.String("confirm")}
			at, err := attach(c.Context, s, cl, req)
			if err != nil {
				return err
			}
			s.StepDone(fmt.Sprintf("Setting %s config vars and restarting ⬢ %s", at.Name, app))
			return nil
		},
	}
}

// attach creates the attachment. When the broker asks for a confirmation
// (the name is taken) and none was given, the user is asked, Heroku's way,
// and the request is sent again with it.
func attach(ctx context.Context, s *cmdkit.Session, cl *api.Client, req api.AttachmentCreate) (api.Attachment, error) {
	msg := "Attaching " + req.Addon
	if req.Name != "" {
		msg += " as " + req.Name
	}
	msg += " to ⬢ " + req.App
	sp := s.StartSpinner(msg)
	at, err := cl.Attach(ctx, req)
	var fe *fault.Error
	if req.Confirm != "" || !errors.Is(err, fault.Confirmation) || !errors.As(err, &fe) {
		return at, sp.FinishErr(err)
	}
	sp.Finish("confirmation required")
	if err := cmdkit.ConfirmApp(s.Stdin, s.Interactive, s.Stderr, req.App, "", fe.Message); err != nil {
		return at, err
	}
	req.Confirm = req.App
	return attach(ctx, s, cl, req)
}
