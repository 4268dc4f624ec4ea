package backups

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"larder/api"
	"larder/broker/changes"
	"larder/fault"
	"larder/store"
)

// List lists the backups of the add-ons app owned when they were taken,
// oldest first (destroyed add-ons' included: they can fill a new one).
func (s *Service) List(ctx context.Context, app string) ([]api.Backup, error) {
	ap, err := s.st.AppByName(ctx, app)
	if err != nil {
		return nil, err
	}
	bs, err := s.st.BackupsOfApp(ctx, ap.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Backup, len(bs))
	for i, b := range bs {
		out[i] = backupJSON(b, false)
	}
	return out, nil
}

// Info is one backup of app's, with its manifest.
func (s *Service) Info(ctx context.Context, app, id string) (api.Backup, error) {
	b, err := s.backupOf(ctx, app, id)
	if err != nil {
		return api.Backup{}, err
	}
	return backupJSON(b, true), nil
}

// backupOf finds backup id among app's; another app's is NotFound, as one
// that does not exist.
func (s *Service) backupOf(ctx context.Context, app, id string) (store.Backup, error) {
	ap, err := s.st.AppByName(ctx, app)
	if err != nil {
		return store.Backup{}, err
	}
	b, err := s.st.BackupByID(ctx, id)
	if err != nil || b.AppID != ap.ID {
		return store.Backup{}, fault.E(fault.NotFound, "⬢ %s has no backup %s; `larder redis:backups -a %s` lists them", app, id, app)
	}
	return b, nil
}

// Open streams a stored backup's archive, with its size and file name.
func (s *Service) Open(ctx context.Context, app, id string) (io.ReadCloser, int64, string, error) {
	if err := s.enabled(); err != nil {
		return nil, 0, "", err
	}
	b, err := s.backupOf(ctx, app, id)
	if err != nil {
		return nil, 0, "", err
	}
	if b.Status != store.BackupCompleted {
		return nil, 0, "", fault.E(fault.Conflict, "backup %s is %s: there is no archive to download", b.ID, b.Status)
	}
	r, err := s.cfg.Target.Open(ctx, b.TargetKey)
	if err != nil {
		return nil, 0, "", fmt.Errorf("open backup %s: %w", b.ID, err)
	}
	return r, b.Size, b.TargetKey, nil
}

// Delete deletes a backup's archive and record, once confirmed with the
// app's name.
func (s *Service) Delete(ctx context.Context, app, id string, req api.BackupDelete) (api.Backup, error) {
	if err := s.enabled(); err != nil {
		return api.Backup{}, err
	}
	b, err := s.backupOf(ctx, app, id)
	if err != nil {
		return api.Backup{}, err
	}
	if req.Confirm != app {
		return api.Backup{}, fault.E(fault.Confirmation, "deleting backup %s cannot be undone; to proceed, re-run with --confirm %s", b.ID, app)
	}
	if b.Status == store.BackupRunning {
		return api.Backup{}, fault.E(fault.Conflict, "backup %s is still running; delete it once it ends", b.ID)
	}
	a, err := s.st.AddonByID(ctx, b.AddonID)
	if err != nil && fault.KindOf(err) != fault.NotFound {
		return api.Backup{}, err
	}
	if err := s.remove(ctx, a, b, "backup.deleted", fmt.Sprintf("backup %s deleted by hand", b.ID)); err != nil {
		return api.Backup{}, err
	}
	return backupJSON(b, false), nil
}

func backupJSON(b store.Backup, manifest bool) api.Backup {
	out := api.Backup{ID: b.ID, Addon: b.AddonName, Label: b.Label, Scheduled: b.Scheduled, Status: b.Status, Verified: b.Verified,
		StartedAt: b.StartedAt, FinishedAt: b.FinishedAt, Size: b.Size, DurationMS: b.DurationMS, SourceNode: b.SourceNode,
		SourceRole: b.SourceRole, Keys: b.Keys, Error: b.Error, Operation: b.OperationID}
	if manifest && b.Manifest != "" {
		out.Manifest = json.RawMessage(b.Manifest)
	}
	return out
}

func operationJSON(op store.Operation) api.Operation { return changes.OperationJSON(op) }

func encode(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode operation params: %v", err)) // plain structs always encode
	}
	return string(data)
}

func decode(op store.Operation, v any) error {
	if err := json.Unmarshal([]byte(op.Params), v); err != nil {
		return fmt.Errorf("operation %s: read params: %w", op.ID, err)
	}
	return nil
}
