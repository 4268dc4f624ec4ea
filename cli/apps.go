package cli

import (
	"fmt"
	"io"
	"sort"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func appsCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "apps",
		Category:  "apps",
		Usage:     "list your apps",
		UsageText: "larder apps [--json]",
		Flags:     []cli.Flag{cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			if _, err := cmdkit.ExactArgs(c, 0, "larder apps"); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			apps, err := cl.Apps(c.Context)
			if err != nil {
				return err
			}
			sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(apps))
			}
			return writeApps(s.Stdout, apps)
		},
	}
}

// writeApps prints Heroku's `=== Apps` list, one name a line.
func writeApps(w io.Writer, apps []api.App) error {
	if len(apps) == 0 {
		_, err := fmt.Fprintln(w, "You have no apps.")
		return err
	}
	if err := ui.WriteHeader(w, "Apps"); err != nil {
		return err
	}
	for _, a := range apps {
		if _, err := fmt.Fprintln(w, a.Name); err != nil {
			return err
		}
	}
	return nil
}
