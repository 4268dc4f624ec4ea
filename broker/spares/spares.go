// Package spares keeps started add-ons of each single-node plan ready (the
// spares, owned by the hidden app apps.SparesApp), so that addons:create
// hands one over at once instead of waiting for an engine to start (tens of
// milliseconds, most of it the engine's own dynamic loading). A spare is an
// empty node with its own fresh passwords that no one has seen.
//
// The pool refills after every hand-over and at start, in one goroutine, so
// two requests never start two refills; a refill that fails is retried with
// a backoff, and a spare that failed to start is destroyed and replaced. A
// hand-over is one transaction: a compare-and-set on the spare's owner
// (store.HandOverAddon), so of two requests for one spare exactly one gets
// it, and the other provisions as usual.
package spares

import (
	"context"
	"fmt"
	"larder/broker/lead"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker/apps"
	"larder/catalog"
	"larder/fault"
	"larder/internal/backoff"
	"larder/store"
)

// Max bounds Config.Count: each spare is a running engine.
const Max = 16

// Addons is what the pool asks of the broker's add-ons: the same create
// and destroy a user's request goes through, and attaching a new add-on to
// an app inside a transaction.
type Addons interface {
	CreateAddon(ctx context.Context, appName string, req api.AddonCreate) (api.AddonResult, error)
	DestroyAddon(ctx context.Context, appName, addonName string, req api.AddonDestroy) (api.AddonResult, error)
	AttachNew(ctx context.Context, tx store.Tx, app store.App, a store.Addon, attName string) (string, error)
}

// Config sets the pool up.
type Config struct {
	Count   int // spares kept of each single-node plan; 0 keeps none
	Catalog *catalog.Catalog
	Store   store.Store
	Addons  Addons
	Log     logrus.FieldLogger
	// Lead gates the refills: only the coordinator fills the pool (nil:
	// every refill runs). The coordinator that takes over refills at once.
	Lead lead.Gate
}

// Pool keeps Config.Count started add-ons of each single-node plan ready.
type Pool struct {
	cfg    Config
	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// New returns a pool; Start runs it.
func New(cfg Config) (*Pool, error) {
	if cfg.Count < 0 || cfg.Count > Max {
		return nil, fmt.Errorf("spares %d: want 0 to %d", cfg.Count, Max)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{cfg: cfg, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}, nil
}

// Start runs the refill loop and fills once at once; with Count 0 it
// removes the spares an earlier run left.
func (s *Pool) Start() {
	s.once.Do(func() {
		if s.cfg.Count <= 0 {
			close(s.done)
			lead.Run(s.cfg.Lead, s.ctx, func(ctx context.Context) {
				if err := s.fill(ctx, 0); err != nil && ctx.Err() == nil {
					s.cfg.Log.WithError(err).Warn("remove spares")
				}
			})
			return
		}
		go s.loop()
		s.Refill()
	})
}

// Refill asks the loop for a refill; it never blocks.
func (s *Pool) Refill() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Pool) loop() {
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
		var err error
		lead.Run(s.cfg.Lead, s.ctx, func(ctx context.Context) { err = s.fill(ctx, s.cfg.Count) })
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			d := retry.Next()
			s.cfg.Log.WithError(err).WithField("retry_in", d).Warn("refill spares")
			timer = time.After(d)
			continue
		}
		retry.Reset()
	}
}

// Close stops the loop; spares already started keep running, for the next
// start to find.
func (s *Pool) Close() {
	s.cancel()
	s.once.Do(func() { close(s.done) })
	<-s.done
}

// Destroy removes spare a (on a draining host, say) and asks for another.
func (s *Pool) Destroy(ctx context.Context, a store.Addon) error {
	defer s.Refill()
	_, err := s.cfg.Addons.DestroyAddon(ctx, apps.SparesApp, a.Name, api.AddonDestroy{Confirm: apps.SparesApp})
	if fault.KindOf(err) == fault.NotFound {
		return nil
	}
	return err
}

// plans lists the plans spares are kept of: every single-node plan.
func plans(cat *catalog.Catalog) []string {
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

// fill brings the spares of each single-node plan to want: it starts
// the missing ones and destroys failed or surplus ones.
func (s *Pool) fill(ctx context.Context, want int) error {
	var app store.App
	var err error
	if want == 0 {
		app, err = s.cfg.Store.AppByName(ctx, apps.SparesApp)
		if fault.KindOf(err) == fault.NotFound {
			return nil // never had spares
		}
	} else {
		app, err = s.cfg.Store.EnsureApp(ctx, apps.SparesApp)
	}
	if err != nil {
		return err
	}
	owned, err := s.cfg.Store.AddonsOfApp(ctx, app.ID)
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
			if _, err := s.cfg.Addons.DestroyAddon(ctx, apps.SparesApp, a.Name, api.AddonDestroy{Confirm: apps.SparesApp}); err != nil && fault.KindOf(err) != fault.NotFound {
				return fmt.Errorf("destroy spare %s: %w", a.Name, err)
			}
			continue
		}
		have[ref]++
	}
	if want == 0 {
		return nil
	}
	for _, ref := range plans(s.cfg.Catalog) {
		for i := have[ref]; i < want; i++ {
			if _, err := s.cfg.Addons.CreateAddon(ctx, apps.SparesApp, api.AddonCreate{Plan: ref}); err != nil {
				return fmt.Errorf("start a spare of %s: %w", ref, err)
			}
		}
	}
	return nil
}

// Take hands a started spare of plan over to appName as the add-on a
// create request asked for (name, or the spare's own; attachment attName or
// the next free one). ok is false, and nothing changed, when no spare is
// ready: the caller provisions as usual.
func (s *Pool) Take(ctx context.Context, appName, name, attName string, svc *catalog.Service, plan *catalog.Plan) (a store.Addon, ok bool, err error) {
	if s.cfg.Count <= 0 || plan.HA {
		return a, false, nil
	}
	err = s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		spareApp, err := tx.AppByName(ctx, apps.SparesApp)
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
		for _, sp := range owned {
			if sp.AppID != spareApp.ID || sp.Service != svc.Name || sp.Plan != plan.Name || sp.State != api.StateProvisioned {
				continue
			}
			if name == "" {
				name = sp.Name
			}
			took, err := tx.HandOverAddon(ctx, sp.ID, spareApp.ID, app.ID, name)
			if err != nil || !took {
				return err
			}
			if err := tx.DeleteAttachmentsOfAddon(ctx, sp.ID); err != nil {
				return err
			}
			a = sp
			a.Name, a.AppID, a.AppName = name, app.ID, app.Name
			if attName, err = s.cfg.Addons.AttachNew(ctx, tx, app, a, attName); err != nil {
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
	s.cfg.Log.WithFields(map[string]any{"addon": a.Name, "app": a.AppName, "plan": plan.Name}).Info("add-on handed over from the spares")
	s.Refill()
	return a, true, nil
}

// Nodes counts the ready spares' nodes by host.
func (s *Pool) Nodes(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	app, err := s.cfg.Store.AppByName(ctx, apps.SparesApp)
	if fault.KindOf(err) == fault.NotFound {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	owned, err := s.cfg.Store.AddonsOfApp(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range owned {
		if a.AppID != app.ID || a.State != api.StateProvisioned {
			continue
		}
		nodes, err := s.cfg.Store.NodesOfAddon(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			out[n.Host]++
		}
	}
	return out, nil
}
