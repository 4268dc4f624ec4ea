// Package backups is the broker's backup service: it takes backups of
// add-ons (package backup's Take, run as an operation on the broker's job
// runner, from the standby when there is one), keeps them in a target
// (package backup/target), runs the daily schedules on an injected clock,
// applies retention, and restores a backup into an existing add-on (writes
// stopped meanwhile, rolled back from an undo copy when the restore fails)
// or into a new one (addons:create … --restore ID).
//
// It reaches the broker's core only through Core, so it holds none of the
// core's rules: the core resolves add-on names, records operations (one at a
// time per add-on), runs and resumes them, and builds node specs.
package backups

import (
	"context"
	"errors"
	"larder/broker/lead"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/backup"
	"larder/backup/target"
	"larder/broker/jobs"
	"larder/catalog"
	"larder/fault"
	"larder/ha/coord"
	"larder/provisioner"
	"larder/store"
)

// Operation kinds the service runs.
const (
	OpCapture = "backup_capture"
	OpRestore = "backup_restore"
)

// Defaults of a paid plan's schedule, and of redis:backups:schedule.
const (
	DefaultAt     = "02:00 UTC"
	DefaultRetain = 7
	maxRetain     = 366
)

// Config sets the service up.
type Config struct {
	// Target keeps the archives; nil turns backups off (requests say so).
	Target target.Target
	// StageDir holds archives while they are captured and verified, and a
	// restore's undo copy. It needs room for twice the largest RDB.
	StageDir string
	// Engine is the binary of verification's scratch nodes; "" finds one.
	Engine string
	// Clock drives the scheduler; default the wall clock.
	Clock coord.Clock
	// Lead gates the scheduler's rounds: only the coordinator runs them
	// (nil: every round runs).
	Lead lead.Gate
	// ScheduleInterval is how often schedules are checked; default 1 min.
	ScheduleInterval time.Duration
	Log              logrus.FieldLogger
}

// Core is what the service needs of the broker's core.
type Core interface {
	Store() store.Store
	Catalog() *catalog.Catalog
	// ResolveAddon finds the add-on ref names on app, as every command does.
	ResolveAddon(ctx context.Context, q store.Q, app, ref string) (store.Addon, error)
	// NewOperation records a pending operation of kind on a in tx, leased
	// to this broker, refusing it while another is unfinished on a.
	NewOperation(ctx context.Context, tx store.Tx, a store.Addon, kind string, params any) (store.Operation, error)
	// Run runs op's work on the job runner.
	Run(op store.Operation, work jobs.Step)
	// SaveStep records that op reached step with params, in q, while this
	// broker holds op (jobs.Runner.SaveStep).
	SaveStep(ctx context.Context, q store.Q, op *store.Operation, step string, params any) error
	// Lock takes the add-on's lock; the caller calls unlock.
	Lock(addonID string) (unlock func())
	// Specs returns the add-on's nodes (primary first) and their specs.
	Specs(ctx context.Context, a store.Addon) ([]store.Node, []provisioner.NodeSpec, error)
	// HostUp reports whether a host answers.
	HostUp(host string) bool
	// Points are the broker's fault-injection points (--crash-at, --hold-at).
	Points() jobs.Points
}

// Service is the backup service of one broker.
type Service struct {
	core Core
	st   store.Store
	cfg  Config
	log  logrus.FieldLogger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns the service; Start runs its scheduler.
func New(core Core, cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = coord.Real()
	}
	if cfg.ScheduleInterval <= 0 {
		cfg.ScheduleInterval = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{core: core, st: core.Store(), cfg: cfg, log: cfg.Log.WithField("component", "backups"), ctx: ctx, cancel: cancel}
}

// Enabled says whether the broker has a backup target.
func (s *Service) Enabled() bool { return s.cfg.Target != nil }

func (s *Service) enabled() error {
	if !s.Enabled() {
		return fault.E(fault.Unavailable, "backups are off on this broker: start it with a backup target (larder broker --backup-url)")
	}
	return nil
}

// Prepare removes what a broker that stopped mid-way left (staged archives,
// scratch directories, incomplete uploads) and marks the backups no
// operation will finish as failed. Call it at start, before operations are
// resumed.
func (s *Service) Prepare(ctx context.Context) error {
	if !s.Enabled() {
		return nil
	}
	n, err := backup.SweepStage(s.cfg.StageDir)
	if err != nil {
		return err
	}
	// A target that is away fails the backups taken meanwhile, each with
	// its event; it keeps no one from the rest of the broker.
	m := 0
	if err := s.cfg.Target.Check(ctx); err != nil {
		s.log.WithError(err).WithField("target", s.cfg.Target.String()).Warn("backup target unusable; backups fail until it is back")
	} else if m, err = s.cfg.Target.Sweep(ctx); err != nil {
		s.log.WithError(err).Warn("sweep the backup target")
	}
	s.sweepUndo(ctx)
	if n+m > 0 {
		s.log.WithFields(logrus.Fields{"stage": n, "target": m}).Info("removed what interrupted backups left")
	}
	return s.failOrphans(ctx)
}

// Start runs the scheduler until Close.
func (s *Service) Start() {
	if !s.Enabled() {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			t := s.cfg.Clock.NewTimer(s.cfg.ScheduleInterval)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
			lead.Run(s.cfg.Lead, s.ctx, s.tick)
		}
	}()
}

// Close stops the scheduler.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// sweepUndo removes the undo copies of restores that ended (a resumed
// restore still needs its own).
func (s *Service) sweepUndo(ctx context.Context) {
	files, _ := filepath.Glob(filepath.Join(s.cfg.StageDir, "undo-*.tar.gz"))
	for _, f := range files {
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "undo-"), ".tar.gz")
		if op, err := s.st.OperationByID(ctx, id); err == nil && !(op.State == api.OpSucceeded || op.State == api.OpFailed) {
			continue
		} else if err != nil && fault.KindOf(err) != fault.NotFound {
			continue
		}
		os.Remove(f)
	}
}

// failOrphans marks failed the running backups whose operation ended
// without them (the add-on went while the broker was away), and removes
// any archive they stored.
func (s *Service) failOrphans(ctx context.Context) error {
	running, err := s.st.RunningBackups(ctx)
	if err != nil {
		return err
	}
	for _, b := range running {
		op, err := s.st.OperationByID(ctx, b.OperationID)
		switch {
		case err == nil && op.State != api.OpSucceeded && op.State != api.OpFailed:
			continue // it runs, or will be resumed
		case err != nil && fault.KindOf(err) != fault.NotFound:
			return err
		}
		// Read again: a capture records its backup before its operation
		// ends, so one that finished meanwhile shows it now.
		if b, err = s.st.BackupByID(ctx, b.ID); err != nil || b.Status != store.BackupRunning {
			continue
		}
		why := "the broker stopped during the backup; nothing was kept"
		if err == nil && op.Error != "" {
			why = op.Error
		}
		if b.TargetKey != "" {
			if err := s.cfg.Target.Delete(ctx, b.TargetKey); err != nil && fault.KindOf(err) != fault.NotFound {
				s.log.WithError(err).WithField("backup", b.ID).Warn("remove an interrupted backup's archive")
			}
		}
		if err := s.finish(ctx, &b, store.BackupFailed, why); err != nil {
			return err
		}
	}
	return nil
}

// finish records a backup's end.
func (s *Service) finish(ctx context.Context, b *store.Backup, status, errMsg string) error {
	now := s.cfg.Clock.Now().UTC()
	b.Status, b.Error, b.FinishedAt = status, errMsg, &now
	return s.st.UpdateBackup(ctx, b)
}

// Resume is the step that resumes an unfinished backup operation, and
// whether op is one.
func (s *Service) Resume(op store.Operation) (jobs.Step, bool) {
	switch op.Kind {
	case OpCapture:
		return s.captureStep(op), true
	case OpRestore:
		return s.restoreStep(op), true
	}
	return nil, false
}

// isCanceled says the broker is stopping: the operation is left to resume.
func isCanceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || fault.KindOf(err) == fault.Unavailable)
}
