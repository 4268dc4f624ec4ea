package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func hostsCommand(s *cmdkit.Session) *cli.Command {
	return &cli.Command{
		Name:      "hosts",
		Category:  "hosts",
		Usage:     "list the hosts nodes run on, with their state and node count",
		UsageText: "larder hosts [--json]",
		Description: "The broker's own host is `local` (\"not used\" when the broker runs with\n" +
			"--no-local-nodes); others are agents (`larder agent`) that registered with it.\n" +
			"An HA add-on's primary and standby go to different hosts. Right after a broker\n" +
			"starts, an agent whose nodes it is still adopting is marked pending.",
		Flags: []cli.Flag{cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			cl, err := s.Client()
			if err != nil {
				return err
			}
			hosts, err := cl.Hosts(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, ui.NonNil(hosts))
			}
			t := ui.NewTable("Host", "State", "Nodes", "Spares", "Address", "Engine")
			for _, h := range hosts {
				t.Add(h.Name, h.State, strconv.Itoa(h.Nodes), strconv.Itoa(h.Spares), h.Addr, h.Engine)
			}
			return t.Write(s.Stdout)
		},
	}
}

func hostsDrainCommand(s *cmdkit.Session) *cli.Command {
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
			a, err := cmdkit.ExactArgs(c, 1, usage)
			if err != nil {
				return err
			}
			if err := cmdkit.CheckArg(usage, api.HostName, a[0]); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			sp := s.StartSpinner("Draining " + a[0])
			res, err := cl.DrainHost(c.Context, a[0])
			if err != nil {
				return sp.FinishErr(err)
			}
			stuck := res.Skipped
			moved := 0
			for _, op := range res.Operations {
				op := op
				got, err := cl.WaitOperation(c.Context, op.ID, 500*time.Millisecond, func(o api.Operation) { sp.SetStatus(o.Progress) })
				switch {
				case err != nil && c.Context.Err() != nil:
					return sp.FinishErr(err)
				case err != nil:
					stuck = append(stuck, op.AddonName+": "+cmdkit.ErrorText(err))
				case got.State != api.OpSucceeded:
					stuck = append(stuck, op.AddonName+": "+got.Error)
				default:
					moved++
				}
			}
			if len(stuck) == 0 {
				sp.Finish("done")
			} else {
				sp.Finish("incomplete")
			}
			fmt.Fprintf(s.Stdout, "%d primaries moved off %s.\n", moved, a[0])
			if len(stuck) == 0 {
				return nil
			}
			return fmt.Errorf("%d primaries could not move off %s:\n  %s\n%s stays draining: no new node goes there until `larder hosts:undrain %s`",
				len(stuck), a[0], strings.Join(stuck, "\n  "), a[0], a[0])
		},
	}
}
