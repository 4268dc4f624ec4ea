package cli

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/catalog"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func addonsPlansCommand(s *cmdkit.Session) *cli.Command {
	const usage = "larder addons:plans [SERVICE] [--json]"
	return &cli.Command{
		Name:        "addons:plans",
		Category:    "add-ons",
		Usage:       "list a service's plans",
		UsageText:   usage,
		Description: "SERVICE defaults to " + catalog.DefaultService + ". The default plan is used when addons:create names no plan.",
		Flags:       []cli.Flag{cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			service := catalog.DefaultService
			switch a := cmdkit.Args(c); len(a) {
			case 0:
			case 1:
				service = a[0]
			default:
				return cmdkit.Usagef(usage, "unexpected argument %q", a[1])
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			plans, err := cl.Plans(c.Context, service)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(plans))
			}
			return writePlans(s.Stdout, plans)
		},
	}
}

// writePlans prints plans in catalog order, the default one marked.
func writePlans(w io.Writer, plans []api.Plan) error {
	t := ui.NewTable("", "Name", "Memory", "Connections", "Persistence", "HA", "Price", "Description")
	for _, p := range plans {
		mark := ""
		if p.Default {
			mark = "default"
		}
		t.Add(mark, p.Name, ui.HumanBytes(p.MaxMemoryBytes), fmt.Sprint(p.MaxClients),
			yesNo(p.Persistence, "AOF", "none"), yesNo(p.HA, "yes", "no"), monthlyPrice(p.PriceCents), p.Description)
	}
	return t.Write(w)
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// monthlyPrice shows cents a month as Heroku does: $5/month, $2.50/month, free.
func monthlyPrice(cents int) string {
	switch {
	case cents <= 0:
		return "free"
	case cents%100 == 0:
		return fmt.Sprintf("$%d/month", cents/100)
	}
	return fmt.Sprintf("$%.2f/month", float64(cents)/100)
}
