// Package lead elects the coordinator among the brokers sharing a store:
// exactly one of them runs the coordinating loops (the HA reconciler and its
// failovers, the take-over of other brokers' operations, backup schedules,
// the spares pool, the metrics sampler, pruning) while every one serves the
// API. The coordinator holds a lease in the store (store.LeaseRepo),
// renewed every third of its length; its loops run under a context that
// carries the lease's fencing token (store.WithLease), so the store refuses
// their writes once another broker began a tenure, and that is cancelled the
// moment a renewal is refused or the lease's end passes on this broker's own
// clock — before another broker can acquire it. A renewal that gets no
// answer (the store restarting) ends nothing by itself: the tenure lasts
// until that end unless a later renewal gets through.
//
// On a store only one broker uses (SQLite) the same code runs, and that
// broker is always the coordinator.
package lead

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/fault"
	"larder/internal/ratelog"
	"larder/store"
)

// Gate is what a coordinating loop asks before each round: During returns
// a context for the round (parent's values and cancellation, the lease's
// token, cancelled when the lease is lost) and ok true when this broker
// coordinates; the loop calls done when the round ends. With ok false the
// loop skips the round.
type Gate interface {
	During(parent context.Context) (ctx context.Context, done context.CancelFunc, ok bool)
}

// Always is the Gate of a component that runs alone (tests, tools): every
// round runs, unfenced.
var Always Gate = always{}

type always struct{}

func (always) During(parent context.Context) (context.Context, context.CancelFunc, bool) {
	ctx, cancel := context.WithCancel(parent)
	return ctx, cancel, true
}

// Or returns g, or Always when g is nil.
func Or(g Gate) Gate {
	if g == nil {
		return Always
	}
	return g
}

// Store is what the elector reads and writes.
type Store interface {
	AcquireLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (store.Lease, error)
	RenewLease(ctx context.Context, holder string, token int64, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, holder string, token int64, now time.Time) error
	RegisterBroker(ctx context.Context, b store.BrokerInfo, now time.Time) error
	BrokerSeen(ctx context.Context, id string, now time.Time) error
}

// Config sets an elector up.
type Config struct {
	Store Store
	Self  store.BrokerInfo // this broker: its ID holds the lease
	// Lease is how long a tenure lasts without a renewal; default 10s.
	Lease time.Duration
	// Now is the clock the lease's times are written in; default time.Now.
	Now func() time.Time
	Log logrus.FieldLogger
	// OnLead, when set, is called (on the elector's goroutine) each time
	// this broker begins a tenure: the loops may run a round at once.
	OnLead func()
}

// Elector acquires and renews the lease for its broker.
type Elector struct {
	cfg    Config
	log    logrus.FieldLogger
	logged *ratelog.Limiter

	ctx    context.Context // the elector's own, until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	lease  store.Lease                 // the tenure held; Holder "" when none
	lctx   context.Context             // the tenure's context; nil when none
	lstop  context.CancelFunc          // cancels lctx
	expiry *time.Timer                 // cancels lctx when the tenure ends on this clock
	rounds map[*int]context.CancelFunc // the rounds running in the tenure
}

// New returns an elector; Start runs it.
func New(cfg Config) *Elector {
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Elector{cfg: cfg, log: cfg.Log.WithField("component", "lead"), logged: ratelog.New(time.Minute, time.Now),
		ctx: ctx, cancel: cancel}
}

// Start registers the broker and tries for the lease once before it
// returns (a broker alone on its store coordinates from its first loop
// round), then keeps trying, or renewing, every third of a lease.
func (e *Elector) Start(ctx context.Context) error {
	if err := e.cfg.Store.RegisterBroker(ctx, e.cfg.Self, e.cfg.Now()); err != nil {
		return err
	}
	e.round(ctx)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(e.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-e.ctx.Done():
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(e.ctx, e.cfg.Lease/3)
			e.round(rctx)
			cancel()
		}
	}()
	return nil
}

// SetURL sets the API URL the broker registers with; call it before Start.
func (e *Elector) SetURL(url string) { e.cfg.Self.URL = url }

// Close stops the elector and gives the lease up, so another broker takes
// over at once.
func (e *Elector) Close(ctx context.Context) {
	e.cancel()
	e.wg.Wait()
	e.mu.Lock()
	l := e.lease
	e.mu.Unlock()
	e.lose("broker stopping")
	if l.Holder != "" {
		if err := e.cfg.Store.ReleaseLease(ctx, l.Holder, l.Token, e.cfg.Now()); err != nil {
			e.log.WithError(err).Warn("give the coordinator lease up")
		}
	}
}

// Lease returns the tenure this broker holds, if any.
func (e *Elector) Lease() (store.Lease, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lease, e.lctx != nil
}

// During is the Gate of the coordinating loops.
// A round's context is cancelled by lose itself, before it returns, so no
// round outlives the tenure it began in.
func (e *Elector) During(parent context.Context) (context.Context, context.CancelFunc, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lctx == nil {
		return parent, func() {}, false
	}
	ctx, cancel := context.WithCancel(store.WithLease(parent, e.lease.Token))
	key := new(int)
	e.rounds[key] = cancel
	return ctx, func() {
		e.mu.Lock()
		delete(e.rounds, key)
		e.mu.Unlock()
		cancel()
	}, true
}

// round renews the tenure held, or tries to begin one, and raises the
// broker's heartbeat.
func (e *Elector) round(ctx context.Context) {
	start := e.cfg.Now()
	if err := e.cfg.Store.BrokerSeen(ctx, e.cfg.Self.ID, start); fault.KindOf(err) == fault.NotFound {
		err = e.cfg.Store.RegisterBroker(ctx, e.cfg.Self, start) // forgotten while away
		e.warn("register", err)
	} else {
		e.warn("heartbeat", err)
	}
	e.mu.Lock()
	held := e.lease
	leading := e.lctx != nil
	e.mu.Unlock()
	if leading {
		ok, err := e.cfg.Store.RenewLease(ctx, held.Holder, held.Token, start, e.cfg.Lease)
		switch {
		case err != nil:
			// No answer (the store restarting, cut off) is no sign the
			// lease was taken: none can take it before it expires, and
			// this broker's own clock ends the tenure before that unless
			// a renewal gets through (extend's timer). Stepping down here
			// would only begin a new tenure, and its work, a moment later.
			e.warn("renew", err)
		case !ok:
			e.lose("lease taken over or expired")
		default:
			e.extend(start)
		}
		return
	}
	l, err := e.cfg.Store.AcquireLease(ctx, e.cfg.Self.ID, start, e.cfg.Lease)
	if err != nil {
		e.warn("acquire", err)
		return
	}
	if l.Holder == e.cfg.Self.ID {
		e.gain(l, start)
	}
}

// gain begins a tenure read at start.
func (e *Elector) gain(l store.Lease, start time.Time) {
	e.mu.Lock()
	e.lease = l
	e.lctx, e.lstop = context.WithCancel(context.Background())
	e.rounds = map[*int]context.CancelFunc{}
	e.mu.Unlock()
	e.extend(start)
	e.log.WithField("token", l.Token).Info("coordinating: this broker holds the coordinator lease")
	if e.cfg.OnLead != nil {
		e.cfg.OnLead()
	}
}

// extend arms the tenure's end on this broker's clock: a lease asked for
// at start ends at start+Lease however long the answer took, and this
// broker stops a tenth of a lease before that, so its rounds are over
// before another broker can acquire the lease.
func (e *Elector) extend(start time.Time) {
	left := e.cfg.Lease*9/10 - e.cfg.Now().Sub(start)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lctx == nil {
		return
	}
	if e.expiry != nil {
		e.expiry.Stop()
	}
	token := e.lease.Token
	e.expiry = time.AfterFunc(left, func() { e.expire(token) })
}

// expire ends tenure token when its end passed unrenewed.
func (e *Elector) expire(token int64) {
	e.mu.Lock()
	same := e.lctx != nil && e.lease.Token == token
	e.mu.Unlock()
	if same {
		e.lose("lease ended on this broker's clock before a renewal")
	}
}

// lose ends the tenure held, cancelling every coordinating round.
func (e *Elector) lose(why string) {
	e.mu.Lock()
	stop, token := e.lstop, e.lease.Token
	if e.expiry != nil {
		e.expiry.Stop()
	}
	had := e.lctx != nil
	for _, cancel := range e.rounds {
		cancel()
	}
	e.lease, e.lctx, e.lstop, e.expiry, e.rounds = store.Lease{}, nil, nil, nil, nil
	e.mu.Unlock()
	if !had {
		return
	}
	stop()
	level := logrus.WarnLevel
	if e.ctx.Err() != nil {
		level = logrus.InfoLevel // stopping: no surprise
	}
	e.log.WithFields(logrus.Fields{"token": token, "why": why}).Log(level, "no longer coordinating")
}

func (e *Elector) warn(what string, err error) {
	if err == nil || e.ctx.Err() != nil {
		return
	}
	if ok, _ := e.logged.Allow(what); ok {
		e.log.WithError(err).Warn(what + " (coordinator lease)")
	}
}

// Run runs one round of a coordinating loop under g (nil: Always): fn
// with the round's context when this broker coordinates, nothing
// otherwise. It reports whether fn ran.
func Run(g Gate, parent context.Context, fn func(ctx context.Context)) bool {
	ctx, done, ok := Or(g).During(parent)
	if !ok {
		return false
	}
	defer done()
	fn(ctx)
	return true
}
