package cli

import (
	"io"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func addonsServicesCommand(s *session) *cli.Command {
	return &cli.Command{
		Name:      "addons:services",
		Category:  "add-ons",
		Usage:     "list the add-on services you can create",
		UsageText: "larder addons:services [--json]",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			if _, err := exactArgs(c, 0, "larder addons:services"); err != nil {
				return err
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			services, err := cl.Services(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(s.stdout, nonNil(services))
			}
			return writeServices(s.stdout, services)
		},
	}
}

func writeServices(w io.Writer, services []api.Service) error {
	t := newTable("Slug", "Name", "Description")
	for _, sv := range services {
		t.add(sv.Name, sv.HumanName, sv.Description)
	}
	return t.write(w)
}
