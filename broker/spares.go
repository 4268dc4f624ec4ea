package broker

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"larder/api"
	"larder/broker/apps"
	"larder/catalog"
	"larder/fault"
	"larder/internal/backoff"
	"larder/store"
)

// SparesApp owns the spares: add-ons of single-node plans the broker starts
// ahead of demand, so that addons:create hands one over at once instead of
// waiting for an engine to start (tens of milliseconds, most of it the
// engine's own dynamic loading).
const SparesApp = apps.SparesApp

// maxSpares bounds Config.Spares: each spare is a running engine.
const maxSpares = 16

// spares keeps Config.Spares started add-ons of each single-node plan ready.
// It refills after every hand-over and at start, in one goroutine, so two
// requests never start two refills; a refill that fails is retried with a
// backoff, and a spare that failed to start is destroyed and replaced.
type spares struct {
	c      *core
	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func newSpares(c *core) *spares {
	ctx, cancel := context.WithCancel(context.Background())
	return &spares{c: c, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// start runs the refill loop; it fills once at once.
func (s *spares) start() {
	s.once.Do(func() {
		if s.c.cfg.Spares <= 0 {
			close(s.done)
			s.destroyAll()
			return
		}
		go s.loop()
		s.refill()
	})
}

// destroyAll removes the spares a broker started with --spares 0 finds,
// left by an earlier run with spares.
func (s *spares) destroyAll() {
	if err := s.c.addons.fillSpares(s.ctx, 0); err != nil && s.ctx.Err() == nil {
		s.c.log.WithError(err).Warn("remove spares")
	}
}

// refill asks the loop for a refill; it never blocks.
func (s *spares) refill() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *spares) loop() {
	defer close(s.done)
	retry := backoff.New(200*time.Millisecond, 30*time.Second)
	var timer <-chan time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-timer:
		}
		timer = nil
		if err := s.c.addons.fillSpares(s.ctx, s.c.cfg.Spares); err != nil {
			if s.ctx.Err() != nil {
				return
			}
			d := retry.Next()
			s.c.log.WithError(err).WithField("retry_in", d).Warn("refill spares")
			timer = time.After(d)
			continue
		}
		retry.Reset()
	}
}

// close stops the loop; spares already started keep running, for the next
// start to find.
func (s *spares) close() {
	s.cancel()
	s.once.Do(func() { close(s.done) })
	<-s.done
}

// sparePlans lists the plans spares are kept of: every single-node plan.
func sparePlans(cat *catalog.Catalog) []string {
	var refs []string
	for _, svc := range cat.Services {
		for _, p := range svc.Plans {
			if !p.HA {
				refs = append(refs, svc.Name+":"+p.Name)
			}
		}
	}
	return refs
}

// fillSpares brings the spares of each single-node plan to want: it starts
// the missing ones and destroys failed or surplus ones.
func (b *Addons) fillSpares(ctx context.Context, want int) error {
	var app store.App
	var err error
	if want == 0 {
		app, err = b.store.AppByName(ctx, SparesApp)
		if fault.KindOf(err) == fault.NotFound {
			return nil // never had spares
		}
	} else {
		app, err = b.store.EnsureApp(ctx, SparesApp)
	}
	if err != nil {
		return err
	}
	owned, err := b.store.AddonsOfApp(ctx, app.ID)
	if err != nil {
		return err
	}
	have := map[string]int{}
	for _, a := range owned {
		if a.AppID != app.ID || a.State == api.StateDeprovisioning {
			continue
		}
		ref := a.Service + ":" + a.Plan
		if a.State == api.StateFailed || have[ref] >= want {
			if _, err := b.DestroyAddon(ctx, SparesApp, a.Name, api.AddonDestroy{Confirm: SparesApp}); err != nil && fault.KindOf(err) != fault.NotFound {
				return fmt.Errorf("destroy spare %s: %w", a.Name, err)
			}
			continue
		}
		have[ref]++
	}
	if want == 0 {
		return nil
	}
	for _, ref := range sparePlans(b.cfg.Catalog) {
		for i := have[ref]; i < want; i++ {
			if _, err := b.CreateAddon(ctx, SparesApp, api.AddonCreate{Plan: ref}); err != nil {
				return fmt.Errorf("start a spare of %s: %w", ref, err)
			}
		}
	}
	return nil
}

// takeSpare hands a started spare of plan over to appName as the add-on a
// create request asked for (name, or the spare's own; attachment attName or
// the next free one). ok is false, and nothing changed, when no spare is
// ready: the caller provisions as usual.
func (b *Addons) takeSpare(ctx context.Context, appName, name, attName string, svc *catalog.Service, plan *catalog.Plan) (a store.Addon, ok bool, err error) {
	if b.cfg.Spares <= 0 || plan.HA {
		return a, false, nil
	}
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		spareApp, err := tx.AppByName(ctx, SparesApp)
		if fault.KindOf(err) == fault.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		app, err := tx.AppByName(ctx, appName)
		if err != nil {
			return err
		}
		owned, err := tx.AddonsOfApp(ctx, spareApp.ID)
		if err != nil {
			return err
		}
		sort.Slice(owned, func(i, j int) bool { return owned[i].CreatedAt.Before(owned[j].CreatedAt) })
		for _, s := range owned {
			if s.AppID != spareApp.ID || s.Service != svc.Name || s.Plan != plan.Name || s.State != api.StateProvisioned {
				continue
			}
			if name == "" {
				name = s.Name
			}
			took, err := tx.HandOverAddon(ctx, s.ID, spareApp.ID, app.ID, name)
			if err != nil || !took {
				return err
			}
			if err := tx.DeleteAttachmentsOfAddon(ctx, s.ID); err != nil {
				return err
			}
			a = s
			a.Name, a.AppID, a.AppName = name, app.ID, app.Name
			if attName, err = b.attachNew(ctx, tx, app, a, attName); err != nil {
				return err
			}
			ok = true
			return tx.AddEvent(ctx, a.ID, a.Name, "addon.create",
				fmt.Sprintf("%s:%s requested for %s as %s: handed over at once from the started spares", svc.Name, plan.Name, app.Name, attName))
		}
		return nil
	})
	if err != nil || !ok {
		return store.Addon{}, false, err
	}
	b.log.WithFields(map[string]any{"addon": a.Name, "app": a.AppName, "plan": plan.Name}).Info("add-on handed over from the spares")
	b.spares.refill()
	return a, true, nil
}

// spareNodes counts the ready spares' nodes by host.
func (b *Addons) spareNodes(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	app, err := b.store.AppByName(ctx, SparesApp)
	if fault.KindOf(err) == fault.NotFound {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	owned, err := b.store.AddonsOfApp(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range owned {
		if a.AppID != app.ID || a.State != api.StateProvisioned {
			continue
		}
		nodes, err := b.store.NodesOfAddon(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			out[n.Host]++
		}
	}
	return out, nil
}
