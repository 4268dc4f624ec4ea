package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/fault"
)

func addonsDetachCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder addons:detach NAME -a APP"
	return &cli.Command{
		Name:      "addons:detach",
		Category:  "add-ons",
		Usage:     "remove an attachment, and its config vars, from an app",
		UsageText: usage,
		Description: "NAME is the attachment name (CACHE) or one of its config vars (CACHE_URL).\n" +
			"The add-on and its data stay; only APP loses its vars. The owning app's last\n" +
			"attachment cannot be removed: destroy the add-on instead.",
		Flags: []cli.Flag{cmdkit.AppFlag()},
		Action: func(c *cli.Context) error {
			app, arg, cl, err := s.AppArg(c, usage, api.AddonRef)
			if err != nil {
				return err
			}
			atts, err := cl.Attachments(c.Context, app)
			if err != nil {
				return err
			}
			at, err := findAttachment(atts, app, arg)
			if err != nil {
				return err
			}
			sp := s.StartSpinner(fmt.Sprintf("Detaching %s to %s from ⬢ %s", at.Name, at.Addon.Name, app))
			_, err = cl.Detach(c.Context, app, at.Name)
			if err := sp.FinishErr(err); err != nil {
				return err
			}
			s.StepDone(fmt.Sprintf("Unsetting %s config vars and restarting ⬢ %s", at.Name, app))
			return nil
		},
	}
}

// findAttachment finds app's attachment called name, or the one giving the
// config var name, in any case; not found names the ones app has.
func findAttachment(atts []api.Attachment, app, name string) (api.Attachment, error) {
	upper := strings.ToUpper(name)
	var names []string
	for _, at := range atts {
		if at.Name == upper {
			return at, nil
		}
		for _, v := range at.ConfigVars {
			if v == upper {
				return at, nil
			}
		}
		names = append(names, at.Name)
	}
	if len(names) == 0 {
		return api.Attachment{}, fault.E(fault.NotFound, "⬢ %s has no attachments", app)
	}
	sort.Strings(names)
	return api.Attachment{}, fault.E(fault.NotFound, "⬢ %s has no attachment %s; its attachments: %s", app, name, strings.Join(names, ", "))
}
