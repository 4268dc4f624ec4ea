package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"larder/api"
)

func redisBackupsScheduleCommand(s *session) *cli.Command {
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
		Flags: []cli.Flag{appFlag(),
			&cli.StringFlag{Name: "at", Usage: "time of day and zone, e.g. '02:00 UTC'"},
			&cli.IntFlag{Name: "retain", Usage: "scheduled backups kept (1-366)", Value: 7}},
		Action: func(c *cli.Context) error {
			at, retain := c.String("at"), c.Int("retain")
			switch {
			case at == "":
				return Usagef(usage, "no time given: add --at '02:00 UTC'")
			case retain < 1:
				return Usagef(usage, "--retain %d: keep at least 1 backup", retain)
			}
			t, err := s.resolveRedis(c, usage)
			if err != nil {
				return err
			}
			sc, err := t.cl.ScheduleBackups(c.Context, t.app, t.addon.Name, api.BackupScheduleSet{At: at, Retain: retain})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.stdout, "Scheduled daily backups of %s.\n%s\n", t.label(), scheduleLine(sc))
			return err
		},
	}
}

func redisBackupsUnscheduleCommand(s *session) *cli.Command {
	const usage = "larder redis:backups:unschedule [NAME] -a APP"
	return &cli.Command{
		Name:      "redis:backups:unschedule",
		Category:  "backups",
		Usage:     "stop an add-on's daily backups (its backups are kept)",
		UsageText: usage,
		Flags:     []cli.Flag{appFlag()},
		Action: func(c *cli.Context) error {
			t, err := s.resolveRedis(c, usage)
			if err != nil {
				return err
			}
			if err := t.cl.UnscheduleBackups(c.Context, t.app, t.addon.Name); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.stdout, "Stopped daily backups of %s; its backups are kept.\n", t.label())
			return err
		},
	}
}

func redisBackupsRestoreCommand(s *session) *cli.Command {
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
		Flags: []cli.Flag{appFlag(), confirmFlag(), &cli.BoolFlag{Name: "no-wait", Usage: "return once the restore has started"}},
		Action: func(c *cli.Context) error {
			a := args(c)
			if len(a) == 0 {
				return Usagef(usage, "missing argument: name the backup, e.g. b001")
			}
			id := a[0]
			if err := checkArg(usage, api.BackupID, id); err != nil {
				return err
			}
			if len(a) > 2 {
				return Usagef(usage, "unexpected argument %q", a[2])
			}
			ref := ""
			if len(a) == 2 {
				ref = a[1]
			}
			t, err := s.resolveRedisRef(c, usage, ref)
			if err != nil {
				return err
			}
			warning := fmt.Sprintf("this replaces every key of %s with backup %s's", t.addon.Name, id)
			if err := confirmApp(s.stdin, s.interactive, s.stderr, t.app, c.String("confirm"), warning); err != nil {
				return err
			}
			sp := startSpinner(s.stderr, s.stderrTTY, fmt.Sprintf("Restoring %s into %s", id, t.label()))
			res, err := t.cl.RestoreBackup(c.Context, t.app, t.addon.Name, api.BackupRestore{Backup: id, Confirm: t.app})
			if err != nil {
				return sp.finishErr(err)
			}
			if c.Bool("no-wait") || res.Operation == nil {
				sp.finish("started")
				return nil
			}
			if _, err := waitOperation(c.Context, t.cl, t.addon.Name, res.Operation, sp, "restored"); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.stdout, "%s holds backup %s's data; writes are back on.\n", t.addon.Name, id)
			return err
		},
	}
}

// restoreFlag is addons:create's --restore ID: the new add-on is filled
// from a backup of one of the app's add-ons.
func restoreFlag() cli.Flag {
	return &cli.StringFlag{Name: "restore", Usage: "fill the new add-on from a backup (an id from larder redis:backups)"}
}

// addRestoreFlag puts --restore into the provider options, where
// `-- --restore ID` puts it too.
func addRestoreFlag(req *api.AddonCreate, id string) error {
	if id == "" {
		return nil
	}
	if err := checkArg(addonsCreateUsage, api.BackupID, id); err != nil {
		return err
	}
	if r, ok := req.Config["restore"]; ok && r != id {
		return Usagef(addonsCreateUsage, "two backups given: use --restore or -- --restore, not both")
	}
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	req.Config["restore"] = id
	return nil
}
