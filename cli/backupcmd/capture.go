package backupcmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
	"larder/fault"
)

func Capture(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups:capture [NAME] -a APP [--wait] [--label TEXT]"
	return &cli.Command{
		Name:      "redis:backups:capture",
		Category:  "backups",
		Usage:     "back an add-on up now",
		UsageText: usage,
		Description: "Takes a backup from the standby when there is one (the primary does nothing),\n" +
			"else from the primary, verifies it in a scratch node, and keeps it in the\n" +
			"broker's backup target. Without --wait the command returns once it has\n" +
			"started; `larder redis:backups:info ID` shows how it went.",
		Flags: []cli.Flag{cmdkit.AppFlag(),
			&cli.BoolFlag{Name: "wait", Usage: "wait until the backup is stored and verified"},
			&cli.StringFlag{Name: "label", Usage: "a note kept with the backup"}},
		Action: func(c *cli.Context) error {
			t, err := s.ResolveRedis(c, usage)
			if err != nil {
				return err
			}
			sp := s.StartSpinner("Starting a backup of " + t.Label())
			res, err := t.Client.CaptureBackup(c.Context, t.App, t.Addon.Name, api.BackupCapture{Label: c.String("label")})
			if err != nil {
				return sp.FinishErr(err)
			}
			sp.Finish("started")
			id := res.Backup.ID
			if !c.Bool("wait") || res.Operation == nil {
				_, err := fmt.Fprintf(s.Stdout, "Backing up %s to %s in the background.\nRun larder redis:backups:info %s -a %s to check progress.\n",
					t.Addon.Name, id, id, t.App)
				return err
			}
			sp = s.StartSpinner(fmt.Sprintf("Backing up %s to %s", t.Addon.Name, id))
			if _, err := cmdkit.WaitOperation(c.Context, t.Client, t.Addon.Name, res.Operation, sp, "backed up"); err != nil {
				return err
			}
			b, err := t.Client.Backup(c.Context, t.App, id)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "Backup %s of %s: %d keys, %s, %s.\n", b.ID, b.Addon, b.Keys, ui.HumanBytes(b.Size), dash(b.Verified))
			return err
		},
	}
}

func Download(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups:download ID -a APP [-o FILE]"
	return &cli.Command{
		Name:      "redis:backups:download",
		Category:  "backups",
		Usage:     "download a backup's archive (.tar.gz)",
		UsageText: usage,
		Description: "Writes the archive to FILE (default ID.tar.gz; - for stdout). It holds\n" +
			"dump.rdb and manifest.json; `tar xzf ID.tar.gz` then\n" +
			"`redis-server --dir . --dbfilename dump.rdb` serves the data.",
		Flags: []cli.Flag{cmdkit.AppFlag(), &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where to write the archive (- for stdout)"}},
		Action: func(c *cli.Context) error {
			app, id, cl, err := s.AppArg(c, usage, api.BackupID)
			if err != nil {
				return err
			}
			out := c.String("output")
			if out == "" {
				out = id + ".tar.gz"
			}
			rc, _, err := cl.DownloadBackup(c.Context, app, id)
			if err != nil {
				return err
			}
			defer rc.Close()
			if out == "-" {
				_, err := io.Copy(s.Stdout, rc)
				return err
			}
			n, err := writeFileAtomic(out, rc)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "Downloaded backup %s to %s (%s).\n", id, out, ui.HumanBytes(n))
			return err
		},
	}
}

// writeFileAtomic writes r to path through a temp file beside it, so that
// an interrupted download leaves no half archive under the name.
func writeFileAtomic(path string, r io.Reader) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return 0, fault.Wrap(fault.Invalid, err, "cannot write "+path)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	n, err := io.Copy(f, r)
	if err != nil {
		return n, fault.Wrap(fault.Unavailable, err, "download cut short; nothing was written to "+path)
	}
	if err := f.Close(); err != nil {
		return n, fault.Wrap(fault.Unavailable, err, "cannot write "+path)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return n, fault.Wrap(fault.Unavailable, err, "cannot write "+path)
	}
	ok = true
	return n, nil
}

func Delete(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups:delete ID -a APP [--confirm APP]"
	return &cli.Command{
		Name:      "redis:backups:delete",
		Category:  "backups",
		Usage:     "delete a backup for good",
		UsageText: usage,
		Flags:     []cli.Flag{cmdkit.AppFlag(), cmdkit.ConfirmFlag()},
		Action: func(c *cli.Context) error {
			app, b, cl, err := backupArg(s, c, usage)
			if err != nil {
				return err
			}
			warning := fmt.Sprintf("this deletes backup %s of %s for good", b.ID, b.Addon)
			if err := cmdkit.ConfirmApp(s.Stdin, s.Interactive, s.Stderr, app, c.String("confirm"), warning); err != nil {
				return err
			}
			sp := s.StartSpinner(fmt.Sprintf("Deleting backup %s of %s", b.ID, b.Addon))
			_, err = cl.DeleteBackup(c.Context, app, b.ID, api.BackupDelete{Confirm: app})
			if err := sp.FinishErr(err); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Stdout, "Deleted backup %s of %s.\n", b.ID, b.Addon)
			return err
		},
	}
}
