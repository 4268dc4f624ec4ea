package backups

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/backup"
	"larder/catalog"
	"larder/fault"
	"larder/store"
)

// AddonRecorded is called in the transaction that records a new add-on on
// plan p: a plan that keeps its data gets the daily schedule (02:00 UTC, 7
// kept); mini's backups are on demand only.
func (s *Service) AddonRecorded(ctx context.Context, tx store.Tx, a store.Addon, p *catalog.Plan) error {
	if !s.Enabled() || !p.Persistence {
		return nil
	}
	return tx.SetBackupSchedule(ctx, &store.BackupSchedule{AddonID: a.ID, At: DefaultAt, Retain: DefaultRetain, LastRun: s.cfg.Clock.Now().UTC()})
}

// Schedule sets the add-on's daily backup.
func (s *Service) Schedule(ctx context.Context, app, ref string, req api.BackupScheduleSet) (api.BackupSchedule, error) {
	if err := s.enabled(); err != nil {
		return api.BackupSchedule{}, err
	}
	d, err := backup.ParseDaily(req.At)
	if err != nil {
		return api.BackupSchedule{}, err
	}
	if req.Retain == 0 {
		req.Retain = DefaultRetain
	}
	if req.Retain < 1 || req.Retain > maxRetain {
		return api.BackupSchedule{}, fault.E(fault.Invalid, "retain %d: keep between 1 and %d backups", req.Retain, maxRetain)
	}
	a, err := s.core.ResolveAddon(ctx, s.st, app, ref)
	if err != nil {
		return api.BackupSchedule{}, err
	}
	if _, p, err := s.core.Catalog().Resolve(a.Service + ":" + a.Plan); err == nil && !p.Persistence {
		return api.BackupSchedule{}, fault.E(fault.Invalid, "%s is on %s, whose backups are on demand only (larder redis:backups:capture); upgrade to a premium plan for daily backups", a.Name, a.Plan)
	}
	sc := store.BackupSchedule{AddonID: a.ID, At: d.String(), Retain: req.Retain, LastRun: s.cfg.Clock.Now().UTC()}
	if err := s.st.SetBackupSchedule(ctx, &sc); err != nil {
		return api.BackupSchedule{}, err
	}
	return api.BackupSchedule{Addon: a.Name, At: sc.At, Retain: sc.Retain, NextRun: d.Next(sc.LastRun)}, nil
}

// Unschedule removes the add-on's daily backup; its backups stay.
func (s *Service) Unschedule(ctx context.Context, app, ref string) error {
	a, err := s.core.ResolveAddon(ctx, s.st, app, ref)
	if err != nil {
		return err
	}
	err = s.st.DeleteBackupSchedule(ctx, a.ID)
	if fault.KindOf(err) == fault.NotFound {
		return fault.E(fault.NotFound, "%s has no backup schedule", a.Name)
	}
	return err
}

// Schedules lists the schedules of app's add-ons.
func (s *Service) Schedules(ctx context.Context, app string) ([]api.BackupSchedule, error) {
	ap, err := s.st.AppByName(ctx, app)
	if err != nil {
		return nil, err
	}
	addons, err := s.st.AddonsOfApp(ctx, ap.ID)
	if err != nil {
		return nil, err
	}
	out := []api.BackupSchedule{}
	for _, a := range addons {
		sc, err := s.st.BackupScheduleOf(ctx, a.ID)
		if fault.KindOf(err) == fault.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		j := api.BackupSchedule{Addon: a.Name, At: sc.At, Retain: sc.Retain}
		if d, err := backup.ParseDaily(sc.At); err == nil {
			j.NextRun = d.Next(sc.LastRun)
		}
		out = append(out, j)
	}
	return out, nil
}

// tick starts the scheduled backups that are due, and fails backups whose
// operation ended without them. A schedule whose add-on is busy (another
// operation under way) is tried again at the next tick.
func (s *Service) tick(ctx context.Context) {
	if err := s.failOrphans(ctx); err != nil && ctx.Err() == nil {
		s.log.WithError(err).Warn("check running backups")
	}
	scheds, err := s.st.BackupSchedules(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.WithError(err).Warn("read backup schedules")
		}
		return
	}
	now := s.cfg.Clock.Now().UTC()
	for _, sc := range scheds {
		d, err := backup.ParseDaily(sc.At)
		if err != nil || !d.Due(sc.LastRun, now) {
			continue
		}
		a, err := s.st.AddonByID(ctx, sc.AddonID)
		if err != nil {
			continue
		}
		log := s.log.WithFields(logrus.Fields{"addon": a.Name, "at": sc.At})
		if _, _, err := s.startCapture(ctx, a, "", &now); err != nil {
			log.WithError(err).Warn("scheduled backup not started; trying again at the next check")
			continue
		}
		log.Info("scheduled backup started")
	}
}

// PlanChanged is called in the transaction that commits a's change from
// plan from to plan to: the schedule follows the plan. An upgrade from a
// plan without daily backups gets the default schedule unless the add-on
// has one; a downgrade to one (mini backs up on demand only) loses its
// schedule, and an event says so. Its backups stay either way.
func (s *Service) PlanChanged(ctx context.Context, tx store.Tx, a store.Addon, from, to *catalog.Plan) error {
	switch {
	case !from.Persistence && to.Persistence && s.Enabled():
		if _, err := tx.BackupScheduleOf(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
			return err // nil: it has one of its own
		}
		if err := s.AddonRecorded(ctx, tx, a, to); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "backup.scheduled", fmt.Sprintf("%s is backed up daily at %s, the %d newest kept: %s includes daily backups",
			a.Name, DefaultAt, DefaultRetain, to.Name))
	case from.Persistence && !to.Persistence:
		sc, err := tx.BackupScheduleOf(ctx, a.ID)
		if fault.KindOf(err) == fault.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteBackupSchedule(ctx, a.ID); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "backup.unscheduled", fmt.Sprintf("the daily backup of %s (%s, %d kept) is removed: %s backs up on demand only (larder redis:backups:capture); its backups stay",
			a.Name, sc.At, sc.Retain, to.Name))
	}
	return nil
}
