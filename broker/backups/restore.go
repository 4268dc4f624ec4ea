package backups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/backup"
	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// restoreParams are a restore operation's params.
type restoreParams struct {
	Backup string `json:"backup"`
}

// Steps a restore makes durable: from stepPaused on, the customer's writes
// are stopped; from stepLoading on, the undo copy is complete.
const (
	stepPaused  = "paused"
	stepLoading = "loading"
)

// Restore replaces the data of the add-on ref names on app with backup
// req.Backup's, once confirmed with the owning app's name.
func (s *Service) Restore(ctx context.Context, app, ref string, req api.BackupRestore) (api.BackupResult, error) {
	if err := s.enabled(); err != nil {
		return api.BackupResult{}, err
	}
	if req.Backup == "" {
		return api.BackupResult{}, fault.E(fault.Invalid, "name the backup to restore (larder redis:backups lists them)")
	}
	a, err := s.core.ResolveAddon(ctx, s.st, app, ref)
	if err != nil {
		return api.BackupResult{}, err
	}
	if a.AppName != app {
		return api.BackupResult{}, fault.E(fault.Conflict, "%s is owned by %s, not %s: restore it from %s", a.Name, a.AppName, app, a.AppName)
	}
	b, err := s.restorable(ctx, app, req.Backup)
	if err != nil {
		return api.BackupResult{}, err
	}
	if req.Confirm != a.AppName {
		return api.BackupResult{}, fault.E(fault.Confirmation, "restoring %s replaces every key of %s; to proceed, re-run with --confirm %s", b.ID, a.Name, a.AppName)
	}
	if a.State != api.StateProvisioned {
		return api.BackupResult{}, fault.E(fault.Conflict, "%s is %s: restore into it once it is provisioned", a.Name, a.State)
	}
	var op store.Operation
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if op, err = s.core.NewOperation(ctx, tx, a, OpRestore, restoreParams{Backup: b.ID}); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "backup.restore", fmt.Sprintf("restoring backup %s (taken %s) into %s: writes stop until it ends",
			b.ID, b.StartedAt.UTC().Format(time.RFC3339), a.Name))
	})
	if err != nil {
		return api.BackupResult{}, err
	}
	s.log.WithFields(logrus.Fields{"addon": a.Name, "backup": b.ID}).Info("restore started")
	s.core.Run(op, s.restoreStep(op))
	o := operationJSON(op)
	return api.BackupResult{Backup: backupJSON(b, false), Operation: &o}, nil
}

// CheckRestoreSource checks, before addons:create records anything, that
// backup id of app's can fill a new add-on.
func (s *Service) CheckRestoreSource(ctx context.Context, app, id string) error {
	if err := s.enabled(); err != nil {
		return err
	}
	_, err := s.restorable(ctx, app, id)
	return err
}

// restorable finds backup id of app's and checks it may be restored: it is
// stored, and its verification did not find it bad.
func (s *Service) restorable(ctx context.Context, app, id string) (store.Backup, error) {
	b, err := s.backupOf(ctx, app, id)
	if err != nil {
		return b, err
	}
	switch {
	case b.Status != store.BackupCompleted:
		return b, fault.E(fault.Conflict, "backup %s is %s: only a completed backup can be restored", b.ID, b.Status)
	case b.Verified == store.VerifyFailed:
		return b, fault.E(fault.Invalid, "backup %s failed its verification (%s): it is never restored", b.ID, b.Error)
	}
	return b, nil
}

// restoreStep restores into an existing add-on: the customer's writes
// stop (its users lose their write rights on the primary: Load's own
// commands are writes, so a pause cannot be used), the current data is
// captured as an undo copy, the backup is loaded in its place (its archive
// checked first: a corrupt one is refused with nothing changed), and
// writes resume. A load that fails is rolled back from the undo copy. A
// resumed restore goes on from the last step it recorded.
func (s *Service) restoreStep(op store.Operation) func(ctx context.Context, progress func(string)) error {
	return func(ctx context.Context, progress func(string)) error {
		var p restoreParams
		if err := decode(op, &p); err != nil {
			return err
		}
		unlock := s.core.Lock(op.AddonID)
		defer unlock()
		a, err := s.st.AddonByID(ctx, op.AddonID)
		if err != nil {
			return err
		}
		b, err := s.st.BackupByID(ctx, p.Backup)
		if err != nil {
			return fmt.Errorf("restore %s: %w", p.Backup, err)
		}
		node, spec, err := s.primary(ctx, a)
		if err != nil {
			return err
		}
		r := &restoring{s: s, a: a, b: b, node: node, spec: spec, undo: filepath.Join(s.cfg.StageDir, "undo-"+op.ID+".tar.gz")}
		// Writes stop on every run, a resumed one too: the restarted
		// broker's adoption of the node gave its users their rights back.
		progress("stopping writes")
		if err := pauseWrites(ctx, node, spec); err != nil {
			if op.Step == stepLoading {
				return r.undoLoad(ctx, err)
			}
			return r.abandon(ctx, err)
		}
		if op.Step != stepLoading {
			if err := s.core.SaveStep(ctx, s.st, &op, stepPaused, p); err != nil {
				return r.abandon(ctx, err)
			}
			s.core.Points().CrashPoint("backup_restore.paused")
			progress("keeping a copy of the current data to roll back to")
			if _, err := backup.Capture(ctx, node, backup.Meta{AddonID: a.ID, AddonName: a.Name, Plan: a.Plan, Role: store.RolePrimary}, r.undo, backup.CaptureOptions{}); err != nil {
				return r.abandon(ctx, err)
			}
			if err := s.core.SaveStep(ctx, s.st, &op, stepLoading, p); err != nil {
				return r.abandon(ctx, err)
			}
			s.core.Points().CrashPoint("backup_restore.loading")
		}
		s.core.Points().HoldPoint(ctx, "backup_restore.load")
		progress("restoring backup " + b.ID)
		var told time.Time
		loaded, err := s.load(ctx, b.TargetKey, node, func(keys int64) {
			s.core.Points().CrashPoint("backup_restore.mid_load")
			if now := time.Now(); now.Sub(told) >= time.Second { // a store write per call: once a second is plenty
				told = now
				progress(fmt.Sprintf("restoring backup %s: %d of %d keys", b.ID, keys, b.Keys))
			}
		})
		if err != nil {
			return r.undoLoad(ctx, err)
		}
		return r.done(fmt.Sprintf("%s holds backup %s's data: %d keys restored (%d expired since it was taken); writes resumed",
			a.Name, b.ID, loaded.Keys, loaded.Expired))
	}
}

// load restores a stored archive into node, replacing its data; progress,
// when set, hears how many keys are in (backup.LoadOptions.Progress).
func (s *Service) load(ctx context.Context, key string, node backup.Node, progress func(keys int64)) (*backup.Loaded, error) {
	rc, err := s.cfg.Target.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return backup.Load(ctx, rc, node, backup.LoadOptions{Replace: true, Dir: s.cfg.StageDir, Progress: progress})
}

// restoring is one restore into an existing add-on, and its endings.
type restoring struct {
	s    *Service
	a    store.Addon
	b    store.Backup
	node backup.Node
	spec provisioner.NodeSpec
	undo string
}

// abandon ends a restore that has not touched the data: writes resume.
func (r *restoring) abandon(ctx context.Context, cause error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the broker stops: the next one goes on
	}
	os.Remove(r.undo)
	msg := fmt.Sprintf("restore of backup %s rolled back: %s; %s is unchanged", r.b.ID, fault.Message(cause), r.a.Name)
	if err := r.resume(); err != nil {
		msg += "; but its writes could not be resumed: " + fault.Message(err)
	}
	r.event("backup.restore_rolled_back", msg)
	return fault.Wrap(fault.KindOf(cause), cause, msg)
}

// undoLoad ends a restore whose load failed: a corrupt archive was refused
// before the node was touched; anything else is undone from the undo copy.
func (r *restoring) undoLoad(ctx context.Context, cause error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(cause, backup.ErrCorrupt) {
		r.b.Verified, r.b.Error = store.VerifyFailed, fault.Message(cause)
		if err := r.s.st.UpdateBackup(context.Background(), &r.b); err != nil {
			r.s.log.WithError(err).WithField("backup", r.b.ID).Warn("mark the backup corrupt")
		}
		return r.abandon(ctx, fault.Wrap(fault.Invalid, cause, fmt.Sprintf("the archive of backup %s fails its checks (%s): refused", r.b.ID, fault.Message(cause))))
	}
	f, err := os.Open(r.undo)
	if err == nil {
		defer f.Close()
		_, err = backup.Load(ctx, f, r.node, backup.LoadOptions{Replace: true, Dir: r.s.cfg.StageDir})
	}
	if err != nil {
		msg := fmt.Sprintf("restore of backup %s failed: %s; rolling back failed too (%s): %s holds part of the backup, and its data from before is kept at %s on the broker",
			r.b.ID, fault.Message(cause), fault.Message(err), r.a.Name, r.undo)
		if rerr := r.resume(); rerr != nil {
			msg += "; its writes could not be resumed: " + fault.Message(rerr)
		}
		r.event("backup.restore_failed", msg)
		return fault.Wrap(fault.KindOf(cause), cause, msg)
	}
	f.Close()
	return r.abandon(ctx, cause)
}

// done ends a restore that finished.
func (r *restoring) done(msg string) error {
	os.Remove(r.undo)
	if err := r.resume(); err != nil {
		msg += "; but its writes could not be resumed: " + fault.Message(err)
		r.event("backup.restored", msg)
		return fault.E(fault.Unavailable, "%s", msg)
	}
	r.event("backup.restored", msg)
	return nil
}

func (r *restoring) resume() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return resumeWrites(ctx, r.node, r.spec)
}

func (r *restoring) event(kind, msg string) {
	if err := r.s.st.AddEvent(context.Background(), r.a.ID, r.a.Name, kind, msg); err != nil {
		r.s.log.WithError(err).WithField("addon", r.a.Name).Warn("record restore event")
	}
}

// RestoreIfAsked fills a new add-on from the backup addons:create --restore
// named, once its nodes run (the provision's step; an error fails the
// provision, which removes the add-on).
func (s *Service) RestoreIfAsked(ctx context.Context, a store.Addon, progress func(string)) error {
	id, done, err := s.st.RestoreSourceOf(ctx, a.ID)
	if fault.KindOf(err) == fault.NotFound || err == nil && done {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.enabled(); err != nil {
		return err
	}
	b, err := s.st.BackupByID(ctx, id)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	if b.Verified == store.VerifyFailed {
		return fault.E(fault.Invalid, "backup %s failed its verification: it is never restored", b.ID)
	}
	node, _, err := s.primary(ctx, a)
	if err != nil {
		return err
	}
	progress("restoring backup " + b.ID)
	loaded, err := s.load(ctx, b.TargetKey, node, nil)
	if err != nil {
		if errors.Is(err, backup.ErrCorrupt) {
			b.Verified, b.Error = store.VerifyFailed, fault.Message(err)
			if uerr := s.st.UpdateBackup(context.Background(), &b); uerr != nil {
				s.log.WithError(uerr).WithField("backup", b.ID).Warn("mark the backup corrupt")
			}
		}
		return fmt.Errorf("restore backup %s: %w", b.ID, err)
	}
	return s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.FinishRestoreSource(ctx, a.ID); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "backup.restored", fmt.Sprintf("%s filled from backup %s of %s: %d keys restored (%d expired since it was taken)",
			a.Name, b.ID, b.AddonName, loaded.Keys, loaded.Expired))
	})
}

// primary is the add-on's primary as a restore reaches it, and its spec.
func (s *Service) primary(ctx context.Context, a store.Addon) (backup.Node, provisioner.NodeSpec, error) {
	nodes, specs, err := s.core.Specs(ctx, a)
	if err != nil {
		return backup.Node{}, provisioner.NodeSpec{}, err
	}
	for i, n := range nodes {
		if n.Role == store.RolePrimary {
			return adminNode(a, n), specs[i], nil
		}
	}
	return backup.Node{}, provisioner.NodeSpec{}, fault.E(fault.Unavailable, "%s has no primary to restore into", a.Name)
}

// pauseWrites takes the write rights of the customer's users (and every
// binding's) on the primary: their connections stay, reads go on, writes
// answer NOPERM. larder's admin user keeps its rights for the restore.
func pauseWrites(ctx context.Context, node backup.Node, spec provisioner.NodeSpec) error {
	c, err := engine.DialAdmin(ctx, node.Address(), engine.User{Name: node.User, Password: node.Password})
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "stop writes on "+node.Name)
	}
	defer c.Close()
	users := []string{spec.Customer.Name}
	for _, u := range spec.ExtraUsers {
		users = append(users, u.Name)
	}
	for _, u := range users {
		if _, err := c.Do(ctx, "ACL", "SETUSER", u, "-@write"); err != nil {
			return fault.Wrap(fault.Unavailable, err, "stop writes on "+node.Name)
		}
	}
	return nil
}

// resumeWrites gives the node's users back exactly the rights spec gives them.
func resumeWrites(ctx context.Context, node backup.Node, spec provisioner.NodeSpec) error {
	c, err := engine.DialAdmin(ctx, node.Address(), engine.User{Name: node.User, Password: node.Password})
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "resume writes on "+node.Name)
	}
	defer c.Close()
	if err := engine.ApplyUsers(ctx, c, spec); err != nil {
		return fault.Wrap(fault.Unavailable, err, "resume writes on "+node.Name)
	}
	return nil
}
