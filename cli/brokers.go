package cli

import (
	"time"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func brokersCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "brokers",
		Category:  "hosts",
		Usage:     "list the brokers sharing the store, and which one coordinates since when",
		UsageText: "larder brokers [--json]",
		Description: "Every broker on the store serves the API; the coordinator (the one holding\n" +
			"the coordinator lease, --coordinator-lease) also takes the HA decisions, takes\n" +
			"over the operations of brokers that stopped, and runs the schedules. A broker\n" +
			"not seen for three leases is marked stale. With the SQLite store there is one.",
		Flags: []cli.Flag{cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			cl, err := s.Client()
			if err != nil {
				return err
			}
			brokers, err := cl.Brokers(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(brokers))
			}
			t := ui.NewTable("Broker", "Role", "Since", "URL", "Version", "Last seen")
			for _, b := range brokers {
				role, since := "serving", ""
				if b.Coordinator {
					role = "coordinator"
					since = b.CoordinatingSince.Local().Format(time.RFC3339)
				}
				if b.Stale {
					role += " (stale)"
				}
				id := b.ID
				if b.Self {
					id += " *"
				}
				t.Add(id, role, since, b.URL, b.Version, b.LastSeen.Local().Format(time.RFC3339))
			}
			return t.Write(s.Stdout)
		},
	}
}
