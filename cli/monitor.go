package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/cli/cmdkit"
	"larder/cli/ui"
	"larder/ha"
)

func monitorsCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "monitors",
		Category:  "hosts",
		Usage:     "list HA observer locations, their last report and what each sees",
		UsageText: "larder monitors [--json]",
		Flags:     []cli.Flag{cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			cl, err := s.Client()
			if err != nil {
				return err
			}
			locs, err := cl.Monitors(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(locs))
			}
			if len(locs) == 0 {
				_, err := fmt.Fprintln(s.Stdout, "No observer has reported yet. Run `larder monitor --location L` in each network location.")
				return err
			}
			t := ui.NewTable("Location", "Observers", "Last report", "Nodes up", "Nodes down", "Votes")
			d := ha.Decision{Voting: []string{}, Known: len(locs), Quorum: locs[0].Quorum}
			for _, l := range locs {
				votes := "counted"
				switch {
				case l.Stalled:
					votes = "withheld (stalled)"
				case !l.Voting:
					votes = fmt.Sprintf("stale (last report %s ago)", (time.Duration(l.AgeMS) * time.Millisecond).Round(100*time.Millisecond))
				default:
					d.Voting = append(d.Voting, l.Location)
				}
				t.Add(l.Location, strings.Join(l.Observers, ", "), l.LastReport.UTC().Format("15:04:05.000"),
					strconv.Itoa(l.Up), strconv.Itoa(len(l.Down)), votes)
			}
			if err := t.Write(s.Stdout); err != nil {
				return err
			}
			if w := d.Warning(); w != "" {
				fmt.Fprintf(s.Stderr, "\nWARNING: %s. No failover can happen until more locations report.\n", w)
			}
			return nil
		},
	}
}
