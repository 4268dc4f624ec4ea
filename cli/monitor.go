package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/ha"
)

func monitorsCommand(s *session) *cli.Command {
	return &cli.Command{
		Name:      "monitors",
		Category:  "hosts",
		Usage:     "list HA observer locations, their last report and what each sees",
		UsageText: "larder monitors [--json]",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			cl, err := s.client()
			if err != nil {
				return err
			}
			locs, err := cl.Monitors(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(s.stdout, nonNil(locs))
			}
			if len(locs) == 0 {
				_, err := fmt.Fprintln(s.stdout, "No observer has reported yet. Run `larder monitor --location L` in each network location.")
				return err
			}
			t := newTable("Location", "Observers", "Last report", "Nodes up", "Nodes down", "Votes")
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
				t.add(l.Location, strings.Join(l.Observers, ", "), l.LastReport.UTC().Format("15:04:05.000"),
					strconv.Itoa(l.Up), strconv.Itoa(len(l.Down)), votes)
			}
			if err := t.write(s.stdout); err != nil {
				return err
			}
			if w := d.Warning(); w != "" {
				fmt.Fprintf(s.stderr, "\nWARNING: %s. No failover can happen until more locations report.\n", w)
			}
			return nil
		},
	}
}
