package backups

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/backup"
	"larder/broker/attach"
	"larder/engine"
	"larder/fault"
	"larder/store"
)

// captureParams are a capture operation's params.
type captureParams struct {
	Backup string `json:"backup"`
}

// Capture starts a backup of the add-on ref names on app, now.
func (s *Service) Capture(ctx context.Context, app, ref string, req api.BackupCapture) (api.BackupResult, error) {
	if err := s.enabled(); err != nil {
		return api.BackupResult{}, err
	}
	if len(req.Label) > 100 {
		return api.BackupResult{}, fault.E(fault.Invalid, "a backup's label takes at most 100 characters")
	}
	a, err := s.core.ResolveAddon(ctx, s.st, app, ref)
	if err != nil {
		return api.BackupResult{}, err
	}
	b, op, err := s.startCapture(ctx, a, req.Label, nil)
	if err != nil {
		return api.BackupResult{}, err
	}
	o := operationJSON(op)
	return api.BackupResult{Backup: backupJSON(b, false), Operation: &o}, nil
}

// startCapture records a backup of a and the operation that takes it, and
// runs it. scheduled, when set, is the schedule run it makes (recorded in
// the same transaction, so a run is never lost nor made twice).
func (s *Service) startCapture(ctx context.Context, a store.Addon, label string, scheduled *time.Time) (store.Backup, store.Operation, error) {
	if a.State != api.StateProvisioned {
		return store.Backup{}, store.Operation{}, fault.E(fault.Conflict, "%s is %s: back it up once it is provisioned", a.Name, a.State)
	}
	b := store.Backup{AddonID: a.ID, AddonName: a.Name, AppID: a.AppID, Label: label, Scheduled: scheduled != nil,
		Status: store.BackupRunning, StartedAt: s.cfg.Clock.Now().UTC()}
	var op store.Operation
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if op, err = s.core.NewOperation(ctx, tx, a, OpCapture, captureParams{}); err != nil {
			return err
		}
		b.OperationID = op.ID
		if err := tx.CreateBackup(ctx, &b); err != nil {
			return err
		}
		if err := s.core.SaveStep(ctx, tx, &op, "", captureParams{Backup: b.ID}); err != nil {
			return err
		}
		if scheduled != nil {
			return tx.SetBackupScheduleRun(ctx, a.ID, *scheduled)
		}
		return nil
	})
	if err != nil {
		return store.Backup{}, store.Operation{}, err
	}
	s.log.WithFields(logrus.Fields{"addon": a.Name, "backup": b.ID}).Info("backup started")
	s.core.Run(op, s.captureStep(op))
	return b, op, nil
}

// captureStep takes the backup op records: from the standby when it is in
// sync and its host answers, else from the primary; verified in a scratch
// node; stored in the target. A resumed one starts over (an archive is
// stored whole or not at all, under the same name). A failed capture
// marks the backup failed and raises an event; a failed verification
// keeps the archive, marked, and raises an event; both fail the operation.
func (s *Service) captureStep(op store.Operation) func(ctx context.Context, progress func(string)) error {
	return func(ctx context.Context, progress func(string)) error {
		var p captureParams
		if err := decode(op, &p); err != nil {
			return err
		}
		b, err := s.st.BackupByID(ctx, p.Backup)
		if err != nil {
			return err
		}
		if b.Status != store.BackupRunning {
			return nil // finished before the broker stopped
		}
		a, err := s.st.AddonByID(ctx, b.AddonID)
		if err != nil {
			if fault.KindOf(err) == fault.NotFound {
				return s.captureFailed(ctx, &b, "", fault.E(fault.NotFound, "the add-on was destroyed"))
			}
			return err
		}
		src, err := s.source(ctx, a, progress)
		if err != nil {
			return s.captureFailed(ctx, &b, a.Name, err)
		}
		b.TargetKey = fmt.Sprintf("%s-%s.tar.gz", a.Name, b.ID)
		b.SourceNode, b.SourceRole = src.node.Name, src.node.Role
		progress(fmt.Sprintf("capturing from the %s %s", src.node.Role, src.node.Name))
		res, err := backup.Take(ctx, backup.Job{Name: b.TargetKey, Source: src.capture, Target: s.cfg.Target, StageDir: s.cfg.StageDir,
			Meta:   backup.Meta{AddonID: a.ID, AddonName: a.Name, Plan: a.Plan, Role: src.node.Role},
			Verify: backup.VerifyOptions{Engine: s.cfg.Engine}, Staged: func() { s.core.Points().CrashPoint("backup_capture.staged") }})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // the broker stops: the next one starts it over
			}
			return s.captureFailed(ctx, &b, a.Name, err)
		}
		s.core.Points().CrashPoint("backup_capture.stored")
		return s.captured(ctx, a, &b, res)
	}
}

// captureFailed records a backup that stored nothing, and why.
func (s *Service) captureFailed(ctx context.Context, b *store.Backup, addon string, cause error) error {
	msg := fault.Message(cause)
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		now := s.cfg.Clock.Now().UTC()
		b.Status, b.Error, b.FinishedAt = store.BackupFailed, msg, &now
		b.DurationMS = now.Sub(b.StartedAt).Milliseconds()
		if err := tx.UpdateBackup(ctx, b); err != nil {
			return err
		}
		if addon == "" {
			return nil
		}
		return tx.AddEvent(ctx, b.AddonID, addon, "backup.failed", fmt.Sprintf("backup %s failed: %s; nothing was kept, the add-on is unharmed", b.ID, msg))
	})
	if err != nil {
		return err
	}
	return fault.Wrap(fault.KindOf(cause), cause, fmt.Sprintf("backup %s failed: %s", b.ID, msg))
}

// captured records a stored backup, its verification, and applies the
// add-on's retention to its scheduled backups.
func (s *Service) captured(ctx context.Context, a store.Addon, b *store.Backup, res *backup.Result) error {
	manifest, err := json.Marshal(res.Manifest)
	if err != nil {
		return err
	}
	now := s.cfg.Clock.Now().UTC()
	b.Status, b.FinishedAt, b.Size, b.Keys, b.Manifest = store.BackupCompleted, &now, res.Size, res.Manifest.Keys, string(manifest)
	b.DurationMS = res.Manifest.FinishedAt.Sub(res.Manifest.StartedAt).Milliseconds()
	kind, msg := "backup.captured", fmt.Sprintf("backup %s taken from the %s %s: %d keys, %d bytes, verified", b.ID, b.SourceRole, b.SourceNode, b.Keys, b.Size)
	var verr error
	switch {
	case res.Verified != nil:
		b.Verified = store.VerifyPassed
	case errors.Is(res.VerifyErr, backup.ErrCorrupt):
		b.Verified, b.Error = store.VerifyFailed, fault.Message(res.VerifyErr)
		kind, msg = "backup.verify_failed", fmt.Sprintf("backup %s failed its verification: %s; it is kept, marked failed, and is never restored", b.ID, b.Error)
		verr = fault.E(fault.Unavailable, "%s", msg)
	default:
		b.Verified, b.Error = store.VerifyUnverified, fault.Message(res.VerifyErr)
		kind, msg = "backup.verify_failed", fmt.Sprintf("backup %s could not be verified: %s; it is kept as unverified", b.ID, b.Error)
		verr = fault.E(fault.Unavailable, "%s", msg)
	}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateBackup(ctx, b); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, kind, msg)
	})
	if err != nil {
		return err
	}
	s.log.WithFields(logrus.Fields{"addon": a.Name, "backup": b.ID, "size": b.Size, "keys": b.Keys, "verified": b.Verified}).Info("backup stored")
	if b.Scheduled {
		if err := s.expire(ctx, a); err != nil {
			s.log.WithError(err).WithField("addon", a.Name).Warn("apply backup retention")
		}
	}
	return verr
}

// expire deletes the add-on's scheduled backups its retention no longer
// keeps: only ever under a newer verified one (backup.Expired).
func (s *Service) expire(ctx context.Context, a store.Addon) error {
	sched, err := s.st.BackupScheduleOf(ctx, a.ID)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil
		}
		return err
	}
	all, err := s.st.BackupsOfAddon(ctx, a.ID)
	if err != nil {
		return err
	}
	var kept []backup.Stored
	for _, b := range all {
		if b.Scheduled && b.Status == store.BackupCompleted {
			kept = append(kept, backup.Stored{ID: b.ID, At: b.StartedAt, Verified: b.Verified == store.VerifyPassed})
		}
	}
	gone, err := backup.Expired(kept, sched.Retain)
	if err != nil {
		return err
	}
	for _, id := range gone {
		b, err := s.st.BackupByID(ctx, id)
		if err != nil {
			return err
		}
		if err := s.remove(ctx, a, b, "backup.expired", fmt.Sprintf("backup %s deleted: the schedule keeps %d verified backups", id, sched.Retain)); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes a backup's archive, then its record, with an event on
// its add-on when the add-on is still there (a.ID non-empty).
func (s *Service) remove(ctx context.Context, a store.Addon, b store.Backup, kind, msg string) error {
	if b.TargetKey != "" {
		if err := s.cfg.Target.Delete(ctx, b.TargetKey); err != nil && fault.KindOf(err) != fault.NotFound {
			return fmt.Errorf("delete backup %s: %w", b.ID, err)
		}
	}
	return s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteBackup(ctx, b.ID); err != nil {
			return err
		}
		if a.ID == "" {
			return nil
		}
		return tx.AddEvent(ctx, a.ID, a.Name, kind, msg)
	})
}

// source is the node a backup is taken from.
type source struct {
	node    store.Node
	capture backup.Node
}

// standbyCatchUp bounds how long a capture waits for the standby to hold
// every write the primary had acknowledged when the capture began (its
// link just restarted, say); past it, the capture is taken from the
// primary.
const standbyCatchUp = 5 * time.Second

// source picks the standby when its host answers and it holds every write
// the primary had acknowledged when the capture began (the primary does
// nothing then), else the primary. A backup taken at once after writes
// holds them, whichever node it came from.
func (s *Service) source(ctx context.Context, a store.Addon, progress func(string)) (source, error) {
	nodes, _, err := s.core.Specs(ctx, a)
	if err != nil {
		return source{}, err
	}
	var primary, standby *store.Node
	for i, n := range nodes {
		switch {
		case n.Role == store.RolePrimary:
			primary = &nodes[i]
		case n.Role == store.RoleStandby && n.State == store.NodeRunning && s.core.HostUp(n.Host):
			standby = &nodes[i]
		}
	}
	n := primary
	if standby != nil && (primary == nil || s.caughtUp(ctx, a, *primary, *standby, progress)) {
		n = standby
	}
	if n == nil {
		return source{}, fault.E(fault.Unavailable, "%s has no node to back up", a.Name)
	}
	// The replication user has exactly the capture's rights (backup.CaptureACL).
	user := engine.User{Name: engine.ReplUser, Password: a.ReplPassword}
	if a.ReplPassword == "" {
		user = engine.User{Name: engine.AdminUser, Password: a.AdminPassword}
	}
	return source{node: *n, capture: backup.Node{Name: n.Name, Addr: n.Address, Port: n.Port, User: user.Name, Password: user.Password}}, nil
}

// caughtUp says whether standby holds every write primary had acknowledged
// by now, waiting up to standbyCatchUp for it to. A primary that does not
// answer leaves the standby as the best copy there is.
func (s *Service) caughtUp(ctx context.Context, a store.Addon, primary, standby store.Node, progress func(string)) bool {
	pt := attach.Target(a, primary)
	pr, err := engine.Replication(ctx, pt)
	if err != nil {
		return true
	}
	st := attach.Target(a, standby)
	if r, err := engine.Replication(ctx, st); err == nil && r.InSync(pt.Endpoint) && r.Offset >= pr.Offset {
		return true
	}
	progress(fmt.Sprintf("waiting for the standby %s to catch up with the primary", standby.Name))
	wctx, cancel := context.WithTimeout(ctx, standbyCatchUp)
	defer cancel()
	if err := engine.WaitCaughtUp(wctx, st, pt.Endpoint, pr.Offset); err != nil {
		s.log.WithError(err).WithField("addon", a.Name).Warn("the standby is behind the primary: the backup is taken from the primary")
		return false
	}
	return true
}

// adminNode is how a restore reaches node n of a.
func adminNode(a store.Addon, n store.Node) backup.Node {
	return backup.Node{Name: n.Name, Addr: n.Address, Port: n.Port, User: engine.AdminUser, Password: a.AdminPassword}
}
