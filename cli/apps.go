package cli

import (
	"fmt"
	"io"
	"sort"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func appsCommand(s *session) *cli.Command {
	return &cli.Command{
		Name:      "apps",
		Category:  "apps",
		Usage:     "list your apps",
		UsageText: "larder apps [--json]",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			if _, err := exactArgs(c, 0, "larder apps"); err != nil {
				return err
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			apps, err := cl.Apps(c.Context)
			if err != nil {
				return err
			}
			sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
			if c.Bool("json") {
				return printJSON(s.stdout, nonNil(apps))
			}
			return writeApps(s.stdout, apps)
		},
	}
}

// writeApps prints Heroku's `=== Apps` list, one name a line.
func writeApps(w io.Writer, apps []api.App) error {
	if len(apps) == 0 {
		_, err := fmt.Fprintln(w, "You have no apps.")
		return err
	}
	if err := writeHeader(w, "Apps"); err != nil {
		return err
	}
	for _, a := range apps {
		if _, err := fmt.Fprintln(w, a.Name); err != nil {
			return err
		}
	}
	return nil
}
