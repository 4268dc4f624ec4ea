package cli

import (
	"io"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func addonsInfoCommand(s *session) *cli.Command {
	const usage = "larder addons:info ADDON [-a APP] [--json]"
	return &cli.Command{
		Name:      "addons:info",
		Category:  "add-ons",
		Usage:     "show an add-on's plan, attachments and state",
		UsageText: usage,
		Description: "ADDON is an add-on name (redis-swift-12345), or with -a an attachment name\n" +
			"(REDIS) or config var (REDIS_URL) of the app, or APP::ATTACHMENT.",
		Flags: []cli.Flag{appFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			a, err := exactArgs(c, 1, usage)
			if err != nil {
				return err
			}
			if err := checkArg(usage, api.AddonRef, a[0]); err != nil {
				return err
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			addon, err := cl.Addon(c.Context, c.String("app"), a[0])
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(s.stdout, addon)
			}
			return writeAddonInfo(s.stdout, addon)
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
	var f fields
	f.add("Plan", a.Plan)
	f.add("Attachments", atts...)
	f.add("Owning app", a.App.Name)
	f.add("Installed at", formatTime(a.CreatedAt))
	f.add("State", displayState(a.State))
	if a.StateReason != "" {
		f.add("Reason", a.StateReason)
	}
	if a.WritesPaused != "" {
		f.add("Writes", a.WritesPaused)
	}
	if err := writeHeader(w, a.Name); err != nil {
		return err
	}
	return f.write(w)
}

// formatTime shows a time the way redis:info's Created row does, in UTC so
// that output does not depend on the machine.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
