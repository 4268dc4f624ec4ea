package cli

import (
	"io"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func addonsServicesCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "addons:services",
		Category:  "add-ons",
		Usage:     "list the add-on services you can create",
		UsageText: "larder addons:services [--json]",
		Flags:     []cli.Flag{cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			if _, err := cmdkit.ExactArgs(c, 0, "larder addons:services"); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			services, err := cl.Services(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(services))
			}
			return writeServices(s.Stdout, services)
		},
	}
}

func writeServices(w io.Writer, services []api.Service) error {
	t := ui.NewTable("Slug", "Name", "Description")
	for _, sv := range services {
		t.Add(sv.Name, sv.HumanName, sv.Description)
	}
	return t.Write(w)
}
