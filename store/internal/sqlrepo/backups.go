package sqlrepo

import (
	"context"
	"fmt"
	"time"

	"larder/fault"
	"larder/store"
)

// CreateBackup inserts a backup under the next number, in one statement:
// the number is one past the highest ever given (backup_numbers keeps those
// of deleted backups).
func (q backupRepo) CreateBackup(ctx context.Context, b *store.Backup) error {
	now := q.now()
	if b.StartedAt.IsZero() {
		b.StartedAt = now
	}
	b.UpdatedAt = now
	prefix := "b"
	if b.Scheduled {
		prefix = "a"
	}
	// The id pads the number to three digits (b007) the same in every SQL.
	var num int64
	err := q.getWrite(ctx, &num, `INSERT INTO backups (num, id, addon_id, addon_name, app_id, label, scheduled, status, verified,
		started_at, finished_at, size, duration_ms, source_node, source_role, keys, manifest, target_key, error, operation_id, updated_at)
		SELECT n, ? || CASE WHEN n < 10 THEN '00' WHEN n < 100 THEN '0' ELSE '' END || CAST(n AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
		FROM (SELECT `+q.d.Greatest+`(COALESCE((SELECT MAX(num) FROM backups), 0), (SELECT last FROM backup_numbers WHERE id = 1)) + 1 AS n) AS next
		RETURNING num`,
		prefix, b.AddonID, b.AddonName, b.AppID, b.Label, b.Scheduled, b.Status, b.Verified,
		b.StartedAt, b.FinishedAt, b.Size, b.DurationMS, b.SourceNode, b.SourceRole, b.Keys, b.Manifest, b.TargetKey, b.Error, b.OperationID, b.UpdatedAt)
	if err != nil {
		return err
	}
	b.Num, b.ID = num, fmt.Sprintf("%s%03d", prefix, num)
	return nil
}

// BackupByID returns one backup.
func (q backupRepo) BackupByID(ctx context.Context, id string) (store.Backup, error) {
	var b store.Backup
	err := q.get(ctx, &b, `SELECT * FROM backups WHERE id = ?`, id)
	return b, notFound(err, "no backup %s", id)
}

// BackupsOfAddon lists an add-on's backups, oldest first.
func (q backupRepo) BackupsOfAddon(ctx context.Context, addonID string) ([]store.Backup, error) {
	var out []store.Backup
	return out, q.sel(ctx, &out, `SELECT * FROM backups WHERE addon_id = ? ORDER BY num`, addonID)
}

// BackupsOfApp lists the backups taken of an app's add-ons, oldest first.
func (q backupRepo) BackupsOfApp(ctx context.Context, appID string) ([]store.Backup, error) {
	var out []store.Backup
	return out, q.sel(ctx, &out, `SELECT * FROM backups WHERE app_id = ? ORDER BY num`, appID)
}

// RunningBackups lists the backups still running, oldest first.
func (q backupRepo) RunningBackups(ctx context.Context) ([]store.Backup, error) {
	var out []store.Backup
	return out, q.sel(ctx, &out, `SELECT * FROM backups WHERE status = ? ORDER BY num`, store.BackupRunning)
}

// UpdateBackup records what a backup has become.
func (q backupRepo) UpdateBackup(ctx context.Context, b *store.Backup) error {
	b.UpdatedAt = q.now()
	return q.execOne(ctx, "backup", `UPDATE backups SET label = ?, status = ?, verified = ?, finished_at = ?, size = ?, duration_ms = ?,
		source_node = ?, source_role = ?, keys = ?, manifest = ?, target_key = ?, error = ?, operation_id = ?, updated_at = ? WHERE id = ?`,
		b.Label, b.Status, b.Verified, b.FinishedAt, b.Size, b.DurationMS, b.SourceNode, b.SourceRole, b.Keys, b.Manifest,
		b.TargetKey, b.Error, b.OperationID, b.UpdatedAt, b.ID)
}

// DeleteBackup removes a backup's row.
func (q backupRepo) DeleteBackup(ctx context.Context, id string) error {
	return q.execOne(ctx, "backup", `DELETE FROM backups WHERE id = ?`, id)
}

// SetBackupSchedule records or replaces an add-on's schedule.
func (q backupRepo) SetBackupSchedule(ctx context.Context, s *store.BackupSchedule) error {
	now := q.now()
	if s.LastRun.IsZero() {
		s.LastRun = now
	}
	s.CreatedAt, s.UpdatedAt = now, now
	_, err := q.exec(ctx, `INSERT INTO backup_schedules (addon_id, at, retain, last_run, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (addon_id) DO UPDATE SET at = excluded.at, retain = excluded.retain, last_run = excluded.last_run, updated_at = excluded.updated_at`,
		s.AddonID, s.At, s.Retain, s.LastRun, s.CreatedAt, s.UpdatedAt)
	if q.isForeignKey(err) {
		return fault.E(fault.NotFound, "add-on not found")
	}
	return err
}

// BackupScheduleOf returns an add-on's schedule.
func (q backupRepo) BackupScheduleOf(ctx context.Context, addonID string) (store.BackupSchedule, error) {
	var s store.BackupSchedule
	err := q.get(ctx, &s, `SELECT * FROM backup_schedules WHERE addon_id = ?`, addonID)
	return s, notFound(err, "the add-on has no backup schedule")
}

// BackupSchedules lists every schedule.
func (q backupRepo) BackupSchedules(ctx context.Context) ([]store.BackupSchedule, error) {
	var out []store.BackupSchedule
	return out, q.sel(ctx, &out, `SELECT * FROM backup_schedules ORDER BY addon_id`)
}

// SetBackupScheduleRun records when a schedule last ran.
func (q backupRepo) SetBackupScheduleRun(ctx context.Context, addonID string, at time.Time) error {
	return q.execOne(ctx, "backup schedule", `UPDATE backup_schedules SET last_run = ?, updated_at = ? WHERE addon_id = ?`, at.UTC(), q.now(), addonID)
}

// DeleteBackupSchedule removes an add-on's schedule.
func (q backupRepo) DeleteBackupSchedule(ctx context.Context, addonID string) error {
	return q.execOne(ctx, "backup schedule", `DELETE FROM backup_schedules WHERE addon_id = ?`, addonID)
}

// SetRestoreSource records the backup a new add-on is filled from.
func (q backupRepo) SetRestoreSource(ctx context.Context, addonID, backupID string) error {
	_, err := q.exec(ctx, `INSERT INTO backup_restores (addon_id, backup_id, created_at) VALUES (?, ?, ?)`, addonID, backupID, q.now())
	switch {
	case q.isUnique(err):
		return fault.E(fault.Conflict, "the add-on is already restored from a backup")
	case q.isForeignKey(err):
		return fault.E(fault.NotFound, "add-on not found")
	}
	return err
}

// RestoreSourceOf returns the backup a new add-on is filled from.
func (q backupRepo) RestoreSourceOf(ctx context.Context, addonID string) (string, bool, error) {
	var row struct {
		BackupID string `db:"backup_id"`
		Done     bool   `db:"done"`
	}
	err := q.get(ctx, &row, `SELECT backup_id, done FROM backup_restores WHERE addon_id = ?`, addonID)
	return row.BackupID, row.Done, notFound(err, "the add-on was not created from a backup")
}

// FinishRestoreSource records that the add-on holds the backup's data.
func (q backupRepo) FinishRestoreSource(ctx context.Context, addonID string) error {
	return q.execOne(ctx, "backup restore", `UPDATE backup_restores SET done = TRUE WHERE addon_id = ?`, addonID)
}
