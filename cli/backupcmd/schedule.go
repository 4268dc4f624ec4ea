package backupcmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
)

func Schedule(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups:schedule [NAME] -a APP --at 'HH:MM [ZONE]' [--retain N]"
	return &cli.Command{
		Name:      "redis:backups:schedule",
		Category:  "backups",
		Usage:     "back an add-on up every day",
		UsageText: usage,
		Description: "Takes a backup every day at --at (a time and an optional zone: '02:00 UTC',\n" +
			"'23:30 Europe/Paris') and keeps the --retain newest verified ones (default 7):\n" +
			"an older backup is only deleted once a newer one is verified. Premium plans\n" +
			"are scheduled at 02:00 UTC with 7 kept when created; mini backs up on demand only.",
		Flags: []cli.Flag{cmdkit.AppFlag(),
			&cli.StringFlag{Name: "at", Usage: "time of day and zone, e.g. '02:00 UTC'"},
			&cli.IntFlag{Name: "retain", Usage: "scheduled backups kept (1-366)", Value: 7}},
		Action: func(c *cli.Context) error {
			at, retain := c.String("at"), c.Int("retain")
			switch {
			case at == "":
				return cmdkit.Usagef(usage, "no time given: add --at '02:00 UTC'")
			case retain < 1:
				return cmdkit.Usagef(usage, "--retain %d: keep at least 1 backup", retain)
			}
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			sc, err := t.Client.ScheduleBackups(c.Context, t.App, t.Addon.Name, api.BackupScheduleSet{At: at, Retain: retain})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "Scheduled daily backups of %s.\n%s\n", t.Label(), scheduleLine(sc))
			return err
		},
	}
}

func Unschedule(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups:unschedule [NAME] -a APP"
	return &cli.Command{
		Name:      "redis:backups:unschedule",
		Category:  "backups",
		Usage:     "stop an add-on's daily backups (its backups are kept)",
		UsageText: usage,
		Flags:     []cli.Flag{cmdkit.AppFlag()},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			if err := t.Client.UnscheduleBackups(c.Context, t.App, t.Addon.Name); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "Stopped daily backups of %s; its backups are kept.\n", t.Label())
			return err
		},
	}
}

func Restore(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups:restore ID [NAME] -a APP [--confirm APP] [--no-wait]"
	return &cli.Command{
		Name:      "redis:backups:restore",
		Category:  "backups",
		Usage:     "replace an add-on's data with a backup's",
		UsageText: usage,
		Description: "Every key of the add-on is replaced by the backup's, with its expiry. Writes\n" +
			"stop for the restore (reads go on); should it fail, the add-on's data from\n" +
			"before is put back, and `larder addons:events` says which happened. A backup\n" +
			"whose archive fails its checks is refused. To fill a new add-on instead:\n\n" +
			"   larder addons:create larder-redis:premium-0 -a APP --restore ID",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.ConfirmFlag(), &cli.BoolFlag{Name: "no-wait", Usage: "return once the restore has started"}},
		Action: func(c *cli.Context) error {
			a := cmdkit.Args(c)
			if len(a) == 0 {
				return cmdkit.Usagef(usage, "missing argument: name the backup, e.g. b001")
			}
			id := a[0]
			if err := cmdkit.CheckArg(usage, api.BackupID, id); err != nil {
				return err
			}
			if len(a) > 2 {
				return cmdkit.Usagef(usage, "unexpected argument %q", a[2])
			}
			ref := ""
			if len(a) == 2 {
				ref = a[1]
			}
			t, err := s.ResolveRedisRef(c, usage, ref)
			if err != nil {
				return err
			}
			warning := fmt.Sprintf("this replaces every key of %s with backup %s's", t.Addon.Name, id)
			if err := cmdkit.ConfirmApp(s.Stdin, s.Interactive, s.Stderr, t.App, c.String("confirm"), warning); err != nil {
				return err
			}
			sp := s.StartSpinner(fmt.Sprintf("Restoring %s into %s", id, t.Label()))
			res, err := t.Client.RestoreBackup(c.Context, t.App, t.Addon.Name, api.BackupRestore{Backup: id, Confirm: t.App})
			if err != nil {
				return sp.FinishErr(err)
			}
			if c.Bool("no-wait") || res.Operation == nil {
				sp.Finish("started")
				return nil
			}
			if _, err := cmdkit.WaitOperation(c.Context, t.Client, t.Addon.Name, res.Operation, sp, "restored"); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "%s holds backup %s's data; writes are back on.\n", t.Addon.Name, id)
			return err
		},
	}
}
