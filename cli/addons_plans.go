package cli

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/catalog"
)

func addonsPlansCommand(s *session) *cli.Command {
	const usage = "larder addons:plans [SERVICE] [--json]"
	return &cli.Command{
		Name:        "addons:plans",
		Category:    "add-ons",
		Usage:       "list a service's plans",
		UsageText:   usage,
		Description: "SERVICE defaults to " + catalog.DefaultService + ". The default plan is used when addons:create names no plan.",
		Flags:       []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			service := catalog.DefaultService
			switch a := args(c); len(a) {
			case 0:
			case 1:
				service = a[0]
			default:
				return Usagef(usage, "unexpected argument %q", a[1])
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			plans, err := cl.Plans(c.Context, service)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(s.stdout, nonNil(plans))
			}
			return writePlans(s.stdout, plans)
		},
	}
}

// writePlans prints plans in catalog order, the default one marked.
func writePlans(w io.Writer, plans []api.Plan) error {
	t := newTable("", "Name", "Memory", "Connections", "Persistence", "HA", "Price", "Description")
	for _, p := range plans {
		mark := ""
		if p.Default {
			mark = "default"
		}
		t.add(mark, p.Name, humanBytes(p.MaxMemoryBytes), fmt.Sprint(p.MaxClients),
			yesNo(p.Persistence, "AOF", "none"), yesNo(p.HA, "yes", "no"), monthlyPrice(p.PriceCents), p.Description)
	}
	return t.write(w)
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

// humanBytes shows a size in binary units: 512 B, 1.5 KB, 25 MB, 1 GB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n)/unit, 0
	for v >= unit && u < 3 {
		v /= unit
		u++
	}
	s := fmt.Sprintf("%.1f", v)
	if s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + []string{"KB", "MB", "GB", "TB"}[u]
}
