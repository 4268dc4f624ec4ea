package cli

import (
	"io"
	"sort"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func addonsInfoCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder addons:info ADDON [-a APP] [--json]"
	return &cli.Command{
		Name:      "addons:info",
		Category:  "add-ons",
		Usage:     "show an add-on's plan, attachments and state",
		UsageText: usage,
		Description: "ADDON is an add-on name (redis-swift-12345), or with -a an attachment name\n" +
			"(REDIS) or config var (REDIS_URL) of the app, or APP::ATTACHMENT.",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			a, err := cmdkit.ExactArgs(c, 1, usage)
			if err != nil {
				return err
			}
			if err := cmdkit.CheckArg(usage, api.AddonRef, a[0]); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			addon, err := cl.Addon(c.Context, c.String("app"), a[0])
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, addon)
			}
			return writeAddonInfo(s.Stdout, addon)
		},
	}
}

// writeAddonInfo prints Heroku's addons:info block.
func writeAddonInfo(w io.Writer, a api.Addon) error {
	var atts []string
	for _, at := range a.Attachments {
		atts = append(atts, at.App.Name+"::"+at.Name)
	}
	sort.Strings(atts)
	var f ui.Fields
	f.Add("Plan", a.Plan)
	f.Add("Attachments", atts...)
	f.Add("Owning app", a.App.Name)
	f.Add("Installed at", ui.FormatTime(a.CreatedAt))
	f.Add("State", displayState(a.State))
	if a.StateReason != "" {
		f.Add("Reason", a.StateReason)
	}
	if a.WritesPaused != "" {
		f.Add("Writes", a.WritesPaused)
	}
	if err := ui.WriteHeader(w, a.Name); err != nil {
		return err
	}
	return f.Write(w)
}
