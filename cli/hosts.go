package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func hostsCommand(s *session) *cli.Command {
	return &cli.Command{
		Name:      "hosts",
		Category:  "hosts",
		Usage:     "list the hosts nodes run on, with their state and node count",
		UsageText: "larder hosts [--json]",
		Description: "The broker's own host is `local` (\"not used\" when the broker runs with\n" +
			"--no-local-nodes); others are agents (`larder agent`) that registered with it.\n" +
			"An HA add-on's primary and standby go to different hosts. Right after a broker\n" +
			"starts, an agent whose nodes it is still adopting is marked pending.",
		Flags: []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			cl, err := s.client()
			if err != nil {
				return err
			}
			hosts, err := cl.Hosts(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(s.stdout, nonNil(hosts))
			}
			t := newTable("Host", "State", "Nodes", "Spares", "Address", "Engine")
			for _, h := range hosts {
				t.add(h.Name, h.State, strconv.Itoa(h.Nodes), strconv.Itoa(h.Spares), h.Addr, h.Engine)
			}
			return t.write(s.stdout)
		},
	}
}

func hostsDrainCommand(s *session) *cli.Command {
	const usage = "larder hosts:drain HOST"
	return &cli.Command{
		Name:      "hosts:drain",
		Category:  "hosts",
		Usage:     "move every primary off a host with planned switchovers",
		UsageText: usage,
		Description: "Marks HOST so no new node goes there and hands each primary on it to its\n" +
			"standby (as redis:failover does): no acknowledged write is lost. A primary\n" +
			"with no standby, or whose standby is on HOST too, cannot move: drain lists\n" +
			"each with why and exits 1. HOST stays draining until `larder hosts:undrain HOST`.",
		Action: func(c *cli.Context) error {
			a, err := exactArgs(c, 1, usage)
			if err != nil {
				return err
			}
			if err := checkArg(usage, api.HostName, a[0]); err != nil {
				return err
			}
			cl, err := s.client()
			if err != nil {
				return err
			}
			sp := startSpinner(s.stderr, s.stderrTTY, "Draining "+a[0])
			res, err := cl.DrainHost(c.Context, a[0])
			if err != nil {
				return sp.finishErr(err)
			}
			stuck := res.Skipped
			moved := 0
			for _, op := range res.Operations {
				op := op
				got, err := cl.WaitOperation(c.Context, op.ID, 500*time.Millisecond, func(o api.Operation) { sp.setStatus(o.Progress) })
				switch {
				case err != nil && c.Context.Err() != nil:
					return sp.finishErr(err)
				case err != nil:
					stuck = append(stuck, op.AddonName+": "+errorText(err))
				case got.State != api.OpSucceeded:
					stuck = append(stuck, op.AddonName+": "+got.Error)
				default:
					moved++
				}
			}
			if len(stuck) == 0 {
				sp.finish("done")
			} else {
				sp.finish("incomplete")
			}
			fmt.Fprintf(s.stdout, "%d primaries moved off %s.\n", moved, a[0])
			if len(stuck) == 0 {
				return nil
			}
			return fmt.Errorf("%d primaries could not move off %s:\n  %s\n%s stays draining: no new node goes there until `larder hosts:undrain %s`",
				len(stuck), a[0], strings.Join(stuck, "\n  "), a[0], a[0])
		},
	}
}
