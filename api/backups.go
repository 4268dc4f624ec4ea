package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"larder/fault"
)

// Backup states and verification results (see store.Backup).
const (
	BackupRunning   = "running"
	BackupCompleted = "completed"
	BackupFailed    = "failed"

	BackupVerified   = "verified"
	BackupCorrupt    = "failed"     // its verification failed: it is never restored
	BackupUnverified = "unverified" // it could not be checked
)

// Backup is one backup of an add-on, as redis:backups lists it.
type Backup struct {
	ID         string     `json:"id"` // b001 (on demand), a001 (scheduled)
	Addon      string     `json:"addon"`
	Label      string     `json:"label,omitempty"`
	Scheduled  bool       `json:"scheduled"`
	Status     string     `json:"status"`             // running, completed, failed
	Verified   string     `json:"verified,omitempty"` // verified, failed, unverified; "" while running
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Size       int64      `json:"size"`
	DurationMS int64      `json:"duration_ms"`
	SourceNode string     `json:"source_node,omitempty"`
	SourceRole string     `json:"source_role,omitempty"` // standby or primary
	Keys       int64      `json:"keys"`
	Error      string     `json:"error,omitempty"`
	Operation  string     `json:"operation,omitempty"`
	// Manifest is the archive's manifest.json (redis:backups:info only).
	Manifest json.RawMessage `json:"manifest,omitempty"`
}

// BackupCapture is the body of POST /apps/{app}/redis/{addon}/backups.
type BackupCapture struct {
	Label string `json:"label,omitempty"`
}

// BackupResult answers a capture: the backup and the operation taking it.
type BackupResult struct {
	Backup    Backup     `json:"backup"`
	Operation *Operation `json:"operation,omitempty"`
}

// BackupDelete is the body of DELETE /apps/{app}/backups/{id}.
type BackupDelete struct {
	Confirm string `json:"confirm,omitempty"` // the app's name
}

// BackupRestore is the body of POST /apps/{app}/redis/{addon}/restore.
type BackupRestore struct {
	Backup  string `json:"backup"`
	Confirm string `json:"confirm,omitempty"` // the owning app's name
}

// BackupSchedule is an add-on's daily backup.
type BackupSchedule struct {
	Addon   string    `json:"addon"`
	At      string    `json:"at"`     // "02:00 UTC"
	Retain  int       `json:"retain"` // scheduled backups kept
	NextRun time.Time `json:"next_run"`
}

// BackupScheduleSet is the body of PUT /apps/{app}/redis/{addon}/backup-schedule.
type BackupScheduleSet struct {
	At     string `json:"at"`
	Retain int    `json:"retain,omitempty"` // default 7
}

func backupPath(app, id string) string { return "/apps/" + esc(app) + "/backups/" + esc(id) }

// Backups lists the backups of an app's add-ons, oldest first.
func (c *Client) Backups(ctx context.Context, app string) ([]Backup, error) {
	var out []Backup
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/backups", nil, &out)
}

// Backup returns one backup, with its manifest.
func (c *Client) Backup(ctx context.Context, app, id string) (Backup, error) {
	var out Backup
	return out, c.Do(ctx, http.MethodGet, backupPath(app, id), nil, &out)
}

// CaptureBackup starts a backup of an add-on.
func (c *Client) CaptureBackup(ctx context.Context, app, ref string, req BackupCapture) (BackupResult, error) {
	var out BackupResult
	return out, c.Do(ctx, http.MethodPost, redisPath(app, ref, "/backups"), req, &out)
}

// DeleteBackup deletes a backup's archive and record.
func (c *Client) DeleteBackup(ctx context.Context, app, id string, req BackupDelete) (Backup, error) {
	var out Backup
	return out, c.Do(ctx, http.MethodDelete, backupPath(app, id), req, &out)
}

// RestoreBackup replaces an add-on's data with a backup's.
func (c *Client) RestoreBackup(ctx context.Context, app, ref string, req BackupRestore) (AddonResult, error) {
	var out AddonResult
	return out, c.Do(ctx, http.MethodPost, redisPath(app, ref, "/restore"), req, &out)
}

// BackupSchedules lists the schedules of an app's add-ons.
func (c *Client) BackupSchedules(ctx context.Context, app string) ([]BackupSchedule, error) {
	var out []BackupSchedule
	return out, c.Do(ctx, http.MethodGet, "/apps/"+esc(app)+"/backup-schedules", nil, &out)
}

// ScheduleBackups sets an add-on's daily backup.
func (c *Client) ScheduleBackups(ctx context.Context, app, ref string, req BackupScheduleSet) (BackupSchedule, error) {
	var out BackupSchedule
	return out, c.Do(ctx, http.MethodPut, redisPath(app, ref, "/backup-schedule"), req, &out)
}

// UnscheduleBackups removes an add-on's daily backup.
func (c *Client) UnscheduleBackups(ctx context.Context, app, ref string) error {
	return c.Do(ctx, http.MethodDelete, redisPath(app, ref, "/backup-schedule"), nil, nil)
}

// DownloadBackup streams a backup's archive (a .tar.gz); the caller closes it.
func (c *Client) DownloadBackup(ctx context.Context, app, id string) (io.ReadCloser, int64, error) {
	path := backupPath(app, id) + "/archive"
	if err := checkPath(path); err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := *c.HTTP
	hc.Timeout = 0 // an archive takes as long as it takes; ctx bounds it
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, fault.Wrap(fault.Unavailable, err, fmt.Sprintf("cannot reach the larder broker at %s (is `larder broker` running?)", c.BaseURL))
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode < 400 {
			return nil, 0, fault.E(fault.Internal, "the broker answered the download with %d", resp.StatusCode)
		}
		return nil, 0, decodeError(resp.StatusCode, data)
	}
	return resp.Body, resp.ContentLength, nil
}
