package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func addonsCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "addons",
		Category:  "add-ons",
		Usage:     "list add-ons and their attachments",
		UsageText: "larder addons [-a APP] [--json]",
		Description: "With -a, list the add-ons an app owns or is attached to, and under each\n" +
			"the names it is attached as. Without -a, list every add-on.",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			if _, err := cmdkit.ExactArgs(c, 0, "larder addons [-a APP]"); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			app := c.String("app")
			if c.Bool("json") {
				// The broker's own bytes: its listings are by name, in the
				// form PrintJSON writes.
				body, err := cl.AddonsJSON(c.Context, app)
				if err != nil {
					return err
				}
				_, err = s.Stdout.Write(body)
				return err
			}
			// The table shows a few strings of each add-on: their summary
			// is a fifth of the bytes, and the broker keeps it ready.
			addons, err := cl.AddonSummaries(c.Context, app)
			if err != nil {
				return err
			}
			sort.Slice(addons, func(i, j int) bool { return addons[i].Name < addons[j].Name })
			if app == "" {
				return writeAllAddons(s.Stdout, addons)
			}
			return writeAppAddons(s.Stdout, app, addons)
		},
	}
}

// writeAppAddons prints Heroku's per-app table: each add-on, then a tree of
// its attachments, this app's first.
func writeAppAddons(w io.Writer, app string, addons []api.AddonSummary) error {
	if len(addons) == 0 {
		_, err := fmt.Fprintf(w, "No add-ons for app %s.\n", app)
		return err
	}
	t := ui.NewTable("Add-on", "Plan", "State")
	t.Grow(2 * len(addons))
	for _, a := range addons {
		plan := shortPlan(a.Plan)
		if a.App != app {
			plan += " (owned by ⬢ " + a.App + ")"
		}
		t.Add(a.Service+" ("+a.Name+")", plan, displayState(a.State))
		atts := sortedAttachments(a.Attachments, app)
		for i, at := range atts {
			branch := " ├─ as "
			if i == len(atts)-1 {
				branch = " └─ as "
			}
			line := branch + at.Name
			if at.App != app {
				line += " on ⬢ " + at.App
			}
			t.Add(line)
		}
	}
	if err := t.Write(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nThe table above shows add-ons and the attachments to the current app (⬢ %s) or other apps.\n", app)
	return err
}

// writeAllAddons prints every add-on with its owning app.
func writeAllAddons(w io.Writer, addons []api.AddonSummary) error {
	if len(addons) == 0 {
		_, err := fmt.Fprintln(w, "No add-ons.")
		return err
	}
	t := ui.NewTable("Owning App", "Add-on", "Plan", "State")
	t.Grow(len(addons))
	for _, a := range addons {
		t.Add("⬢ "+a.App, a.Service+" ("+a.Name+")", shortPlan(a.Plan), displayState(a.State))
	}
	return t.Write(w)
}

// sortedAttachments puts the attachments to app first, then the others by
// app, each group by name.
func sortedAttachments(atts []api.AttachmentSummary, app string) []api.AttachmentSummary {
	if len(atts) < 2 {
		return atts
	}
	out := append([]api.AttachmentSummary{}, atts...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.App == app) != (b.App == app) {
			return a.App == app
		}
		if a.App != b.App {
			return a.App < b.App
		}
		return a.Name < b.Name
	})
	return out
}

// shortPlan drops the service from "service:plan", as Heroku's table does.
func shortPlan(plan string) string {
	if _, p, ok := strings.Cut(plan, ":"); ok {
		return p
	}
	return plan
}

// displayState names an add-on state the way Heroku's CLI shows it.
func displayState(state string) string {
	switch state {
	case api.StateProvisioned:
		return "created"
	case api.StateProvisioning:
		return "creating"
	case api.StateDeprovisioning:
		return "destroying"
	case api.StateDeprovisioned:
		return "destroyed"
	case api.StateFailed:
		return "errored"
	}
	return state
}
