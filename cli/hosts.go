package cli

import (
	"fmt"
	"strconv"

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
			t := newTable("Host", "State", "Nodes", "Address", "Engine")
			for _, h := range hosts {
				t.add(h.Name, h.State, strconv.Itoa(h.Nodes), h.Addr, h.Engine)
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
			"standby (as redis:failover does): no acknowledged write is lost.",
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
			for _, op := range res.Operations {
				op := op
				if _, err := waitOperation(c.Context, cl, op.AddonName, &op, sp, "switched over"); err != nil {
					return err
				}
			}
			sp.finish("done")
			fmt.Fprintf(s.stdout, "%d primaries moved off %s.\n", len(res.Operations), a[0])
			for _, sk := range res.Skipped {
				fmt.Fprintf(s.stdout, "not moved: %s\n", sk)
			}
			return nil
		},
	}
}
