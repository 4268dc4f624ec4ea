package store

import (
	"context"
	"time"
)

// Backup states and verification results.
const (
	BackupRunning   = "running"   // being captured, verified and stored
	BackupCompleted = "completed" // stored in the target
	BackupFailed    = "failed"    // nothing stored; Error says why

	VerifyPassed     = "verified"   // restoring it was proven
	VerifyFailed     = "failed"     // the backup is bad: it must not be restored
	VerifyUnverified = "unverified" // it could not be checked (the scratch node did not start, …)
)

// Backup is one archive of an add-on's data. It outlives its add-on.
type Backup struct {
	// ID is what users name it by: 'b' (taken on demand) or 'a'
	// (scheduled) followed by Num, at least three digits (b001, a042).
	// CreateBackup assigns both; a number is never given twice.
	ID         string     `db:"id"`
	Num        int64      `db:"num"`
	AddonID    string     `db:"addon_id"`
	AddonName  string     `db:"addon_name"`
	AppID      string     `db:"app_id"` // the owning app when it was taken
	Label      string     `db:"label"`
	Scheduled  bool       `db:"scheduled"`
	Status     string     `db:"status"`
	Verified   string     `db:"verified"` // "" until checked, then a Verify… value
	StartedAt  time.Time  `db:"started_at"`
	FinishedAt *time.Time `db:"finished_at"`
	Size       int64      `db:"size"`
	DurationMS int64      `db:"duration_ms"`
	SourceNode string     `db:"source_node"`
	SourceRole string     `db:"source_role"`
	Keys       int64      `db:"keys"`
	Manifest   string     `db:"manifest"`   // the archive's manifest.json
	TargetKey  string     `db:"target_key"` // the archive's name in the target
	Error      string     `db:"error"`
	// OperationID is the operation that takes it.
	OperationID string    `db:"operation_id"`
	UpdatedAt   time.Time `db:"updated_at"`
}

// BackupSchedule takes an add-on's backups daily.
type BackupSchedule struct {
	AddonID string `db:"addon_id"`
	At      string `db:"at"`     // "02:00 UTC": a time of day and a zone
	Retain  int    `db:"retain"` // scheduled backups kept
	// LastRun is when it last ran, or when it was set: the next run is the
	// first At after it.
	LastRun   time.Time `db:"last_run"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// BackupRepo holds backups and their schedules.
type BackupRepo interface {
	// CreateBackup inserts a backup, numbering it (ID and Num are set);
	// StartedAt and UpdatedAt are filled in when unset.
	CreateBackup(ctx context.Context, b *Backup) error
	BackupByID(ctx context.Context, id string) (Backup, error)
	// BackupsOfAddon lists an add-on's backups, oldest first.
	BackupsOfAddon(ctx context.Context, addonID string) ([]Backup, error)
	// BackupsOfApp lists the backups of the add-ons an app owned when they
	// were taken, oldest first.
	BackupsOfApp(ctx context.Context, appID string) ([]Backup, error)
	// RunningBackups lists the backups still running, oldest first.
	RunningBackups(ctx context.Context) ([]Backup, error)
	// UpdateBackup records a backup's status, verification, figures,
	// manifest, target key and error.
	UpdateBackup(ctx context.Context, b *Backup) error
	DeleteBackup(ctx context.Context, id string) error

	// SetBackupSchedule records (or replaces) an add-on's schedule; LastRun
	// is filled in when unset.
	SetBackupSchedule(ctx context.Context, s *BackupSchedule) error
	// BackupScheduleOf returns an add-on's schedule; NotFound when it has none.
	BackupScheduleOf(ctx context.Context, addonID string) (BackupSchedule, error)
	BackupSchedules(ctx context.Context) ([]BackupSchedule, error)
	// SetBackupScheduleRun records when a schedule last ran.
	SetBackupScheduleRun(ctx context.Context, addonID string, at time.Time) error
	DeleteBackupSchedule(ctx context.Context, addonID string) error

	// SetRestoreSource records that a new add-on is to be filled from a
	// backup; a second one is a Conflict.
	SetRestoreSource(ctx context.Context, addonID, backupID string) error
	// RestoreSourceOf returns the backup a new add-on is filled from and
	// whether that is done; NotFound when it was not created from one.
	RestoreSourceOf(ctx context.Context, addonID string) (backupID string, done bool, err error)
	// FinishRestoreSource records that the add-on holds the backup's data.
	FinishRestoreSource(ctx context.Context, addonID string) error
}
