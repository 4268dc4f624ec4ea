package backupcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"larder/api"
	"larder/cli/cmdkit"
	"larder/cli/ui"
)

func List(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups -a APP [--json]"
	return &cli.Command{
		Name:      "redis:backups",
		Category:  "backups",
		Usage:     "list the backups of an app's add-ons and their schedules",
		UsageText: usage,
		Description: "One row per backup, oldest first: its id (b… taken on demand, a… scheduled),\n" +
			"add-on, start time (UTC), size, capture time, the node it was taken from\n" +
			"(the standby when there is one), its status and whether it was verified\n" +
			"(loaded into a scratch node and compared with its manifest).\n" +
			"Backups of destroyed add-ons stay listed: they can fill a new add-on\n" +
			"(larder addons:create … --restore ID).",
		Flags: []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			app, err := cmdkit.RequireApp(c)
			if err != nil {
				return err
			}
			if _, err := cmdkit.ExactArgs(c, 0, usage); err != nil {
				return err
			}
			cl, err := s.Client()
			if err != nil {
				return err
			}
			backups, err := cl.Backups(c.Context, app)
			if err != nil {
				return err
			}
			scheds, err := cl.BackupSchedules(c.Context, app)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, map[string]any{"backups": ui.NonNil(backups), "schedules": ui.NonNil(scheds)})
			}
			return writeBackups(s.Stdout, app, backups, scheds)
		},
	}
}

// writeBackups prints Heroku pg:backups' two sections: the backups, then
// the schedules.
func writeBackups(w io.Writer, app string, backups []api.Backup, scheds []api.BackupSchedule) error {
	ui.WriteHeader(w, "Backups of ⬢ "+app)
	if len(backups) == 0 {
		fmt.Fprintf(w, "No backups. Capture one with: larder redis:backups:capture -a %s\n", app)
	} else {
		t := ui.NewTable("ID", "Add-on", "Started (UTC)", "Size", "Duration", "Source", "Status", "Verified")
		for _, b := range backups {
			t.Add(b.ID, b.Addon, b.StartedAt.UTC().Format("2006-01-02 15:04:05"), backupSize(b), backupDuration(b),
				strings.TrimSpace(b.SourceRole+" "+b.SourceNode), backupStatus(b), dash(b.Verified))
		}
		if err := t.Write(w); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	ui.WriteHeader(w, "Backup schedules")
	if len(scheds) == 0 {
		_, err := fmt.Fprintf(w, "No backup schedules. Schedule daily backups with: larder redis:backups:schedule --at '02:00 UTC' -a %s\n", app)
		return err
	}
	for _, sc := range scheds {
		if _, err := fmt.Fprintln(w, scheduleLine(sc)); err != nil {
			return err
		}
	}
	return nil
}

func scheduleLine(sc api.BackupSchedule) string {
	return fmt.Sprintf("%s: daily at %s, %d kept (next %s)", sc.Addon, sc.At, sc.Retain, sc.NextRun.UTC().Format("2006-01-02 15:04 UTC"))
}

func backupStatus(b api.Backup) string {
	switch b.Status {
	case api.BackupCompleted:
		return "Completed"
	case api.BackupRunning:
		return "Running"
	default:
		return "Failed"
	}
}

func backupSize(b api.Backup) string {
	if b.Status != api.BackupCompleted {
		return "-"
	}
	return ui.HumanBytes(b.Size)
}

func backupDuration(b api.Backup) string {
	if b.FinishedAt == nil {
		return "-"
	}
	d := time.Duration(b.DurationMS) * time.Millisecond
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func Info(s *cmdkit.Session) *cli.Command {
	const usage = "larder redis:backups:info ID -a APP [--json]"
	return &cli.Command{
		Name:      "redis:backups:info",
		Category:  "backups",
		Usage:     "show one backup: status, verification, figures and manifest",
		UsageText: usage,
		Flags:     []cli.Flag{cmdkit.AppFlag(), cmdkit.JSONFlag()},
		Action: func(c *cli.Context) error {
			_, b, _, err := backupArg(s, c, usage)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return ui.PrintJSON(s.Stdout, b)
			}
			return writeBackupInfo(s.Stdout, b)
		},
	}
}

func writeBackupInfo(w io.Writer, b api.Backup) error {
	ui.WriteHeader(w, "Backup "+b.ID)
	var f ui.Fields
	f.Add("Add-on", b.Addon)
	if b.Label != "" {
		f.Add("Label", b.Label)
	}
	kind := "on demand"
	if b.Scheduled {
		kind = "scheduled"
	}
	f.Add("Taken", kind)
	f.Add("Status", backupStatus(b))
	f.Add("Verified", dash(b.Verified))
	f.Add("Started", b.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	if b.FinishedAt != nil {
		f.Add("Finished", b.FinishedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	f.Add("Duration", backupDuration(b))
	f.Add("Size", backupSize(b))
	f.Add("Keys", fmt.Sprint(b.Keys))
	f.Add("Source", dash(strings.TrimSpace(b.SourceRole+" "+b.SourceNode)))
	var m struct {
		Engine struct{ Name, Version string } `json:"engine"`
		Digest string                         `json:"digest"`
	}
	if len(b.Manifest) > 0 && json.Unmarshal(b.Manifest, &m) == nil {
		f.Add("Engine", strings.TrimSpace(m.Engine.Name+" "+m.Engine.Version))
		f.Add("Digest", m.Digest)
	}
	if b.Error != "" {
		f.Add("Error", b.Error)
	}
	return f.Write(w)
}

// backupArg reads -a APP and a command's backup ID and fetches the backup.
func backupArg(s *cmdkit.Session, c *cli.Context, usage string) (string, api.Backup, *api.Client, error) {
	app, id, cl, err := s.AppArg(c, usage, api.BackupID)
	if err != nil {
		return "", api.Backup{}, nil, err
	}
	b, err := cl.Backup(c.Context, app, id)
	return app, b, cl, err
}
