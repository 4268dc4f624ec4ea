package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/catalog"
	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// A fork (addons:create … --fork URL) fills a new add-on from another server
// once: its primary replicates from the source until it is in sync, then
// stops following and stands alone (its standby, on HA plans, replicates from
// it as usual). Where the source refuses SYNC/PSYNC, keys are copied with SCAN
// + DUMP/RESTORE instead. Settings are not copied. The source's password is
// kept only until the fork is done, and never shown: messages, events and
// progress name the source by its URL with the password masked.

const (
	// forkHeadroom is the share of the plan's memory the source's data may
	// use, as for a downgrade: the rest absorbs writes after the fork.
	forkHeadroom = 0.8
	// inspectTimeout bounds the checks of a source (reach, password, size).
	inspectTimeout = 10 * time.Second
	// forkTimeout bounds a whole fork.
	forkTimeout = time.Hour
	// forkReportEvery spaces the progress a running fork writes to the store.
	forkReportEvery = 500 * time.Millisecond
)

// forkSource resolves the fork option of addons:create: a redis:// or
// rediss:// URL, or a larder add-on (an add-on name, app::NAME, or an
// attachment name on appName). It returns the row to record with the new
// add-on and the source to check now. A larder add-on is reached as admin on
// its primary; its password is read again when the fork runs, never copied.
func (b *Addons) forkSource(ctx context.Context, q store.Q, appName, ref string) (store.Fork, engine.Source, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || ref == "true" {
		return store.Fork{}, engine.Source{}, fault.E(fault.Invalid, "--fork needs a source: a redis:// URL or a larder add-on (APP::NAME)")
	}
	if strings.Contains(ref, "://") || strings.Contains(ref, "@") {
		src, err := engine.ParseSourceURL(ref)
		if err != nil {
			return store.Fork{}, engine.Source{}, err
		}
		return store.Fork{Source: src.Label, Host: src.Addr, Port: src.Port, Username: src.User.Name,
			Password: src.User.Password, TLS: src.TLS, SkipVerify: src.SkipVerify}, src, nil
	}
	a, err := apps.Resolve(ctx, q, appName, ref)
	if fault.KindOf(err) == fault.NotFound {
		return store.Fork{}, engine.Source{}, fault.E(fault.Invalid,
			"fork source %q is neither a redis:// URL nor a larder add-on; use redis://USER:PASSWORD@HOST:PORT or APP::NAME", truncate(ref, 80))
	}
	if err != nil {
		return store.Fork{}, engine.Source{}, err
	}
	src, err := b.addonSource(ctx, q, a)
	if err != nil {
		return store.Fork{}, engine.Source{}, err
	}
	return store.Fork{Source: src.Label, SourceAddonID: a.ID}, src, nil
}

// addonSource is a larder add-on as a fork source: its primary, as admin.
func (b *Addons) addonSource(ctx context.Context, q store.Q, a store.Addon) (engine.Source, error) {
	if a.State != api.StateProvisioned {
		return engine.Source{}, fault.E(fault.Conflict, "cannot fork from %s: it is %s", a.Name, a.State)
	}
	nodes, err := q.NodesOfAddon(ctx, a.ID)
	if err != nil {
		return engine.Source{}, err
	}
	n, ok := primaryNode(nodes)
	if !ok {
		return engine.Source{}, fault.E(fault.Unavailable, "cannot fork from %s: it has no running primary", a.Name)
	}
	return engine.Source{Endpoint: engine.Endpoint{Addr: n.Address, Port: n.Port},
		User:  engine.User{Name: engine.AdminUser, Password: a.AdminPassword},
		Label: a.AppName + "::" + a.Name}, nil
}

// sourceOf rebuilds a recorded fork's source.
func (b *Addons) sourceOf(ctx context.Context, f store.Fork) (engine.Source, error) {
	if f.SourceAddonID != "" {
		a, err := b.store.AddonByID(ctx, f.SourceAddonID)
		if err != nil {
			return engine.Source{}, fault.Wrap(fault.Conflict, err, "the fork source "+f.Source+" is gone")
		}
		return b.addonSource(ctx, b.store, a)
	}
	if f.Password == "" {
		return engine.Source{}, fault.E(fault.Conflict, "the credentials of the fork source %s are gone", f.Source)
	}
	return engine.Source{Endpoint: engine.Endpoint{Addr: f.Host, Port: f.Port},
		User: engine.User{Name: f.Username, Password: f.Password}, TLS: f.TLS, SkipVerify: f.SkipVerify, Label: f.Source}, nil
}

// inspectSource checks that src answers with its credentials and that its
// data fits plan p with headroom.
func inspectSource(ctx context.Context, src engine.Source, svc string, p *catalog.Plan) (engine.SourceInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	info, err := engine.InspectSource(ctx, src)
	if err != nil {
		return info, err
	}
	limit := int64(float64(p.MaxMemoryBytes) * forkHeadroom)
	if info.UsedMemoryBytes > limit {
		return info, fault.E(fault.Invalid, "%s uses %s; %s:%s holds %s, and the data must stay below %s (%.0f%%); pick a larger plan",
			src, HumanBytes(info.UsedMemoryBytes), svc, p.Name, HumanBytes(p.MaxMemoryBytes), HumanBytes(limit), forkHeadroom*100)
	}
	return info, nil
}

// checkFork is addons:create's early check of a fork source, so that a bad
// URL, a wrong password, an unreachable or too large source is refused before
// anything is created. It returns the row to record with the add-on.
func (b *Addons) checkFork(ctx context.Context, appName, ref, svc string, p *catalog.Plan) (*store.Fork, error) {
	f, src, err := b.forkSource(ctx, b.store, appName, ref)
	if err != nil {
		return nil, err
	}
	if _, err := inspectSource(ctx, src, svc, p); err != nil {
		return nil, err
	}
	return &f, nil
}

// forkIfAsked runs the fork of a new add-on, if it has one, once its nodes
// are up and in sync: ProvisionStep calls it before marking the add-on
// provisioned. A fork that was done before a broker restart is not run again.
func (b *Addons) forkIfAsked(ctx context.Context, a store.Addon, progress func(string)) error {
	f, err := b.store.ForkOf(ctx, a.ID)
	if fault.KindOf(err) == fault.NotFound || err == nil && f.State == store.ForkDone {
		return nil
	}
	if err != nil {
		return err
	}
	src, err := b.sourceOf(ctx, f)
	if err != nil {
		return err
	}
	p, err := b.nodes.PlanOf(a)
	if err != nil {
		return err
	}
	nodes, specs, err := b.nodes.SpecsOf(ctx, b.store, a)
	if err != nil {
		return err
	}
	var primary store.Node
	var spec provisioner.NodeSpec
	for i, n := range nodes {
		if n.Role == store.RolePrimary {
			primary, spec = n, specs[i]
		}
	}
	if primary.ID == "" {
		return fault.E(fault.Unavailable, "%s has no primary to fork into", a.Name)
	}
	progress("checking the fork source " + f.Source)
	info, err := inspectSource(ctx, src, a.Service, p)
	if err != nil {
		return err
	}
	rep := &forkReporter{b: b, a: a, source: f.Source, progress: progress}
	fctx, cancel := context.WithTimeout(ctx, forkTimeout)
	defer cancel()
	res, err := engine.Fork(fctx, attach.Target(a, primary), src, info, engine.ForkOptions{Repl: spec.Repl, Progress: rep.report})
	if err != nil {
		return forkError(f.Source, err)
	}
	last := rep.flush()
	if res.Method == engine.ForkCopy {
		msg := fmt.Sprintf("%s; copied the keys with SCAN + DUMP/RESTORE instead (TTLs kept; keys written on the source meanwhile may be missing)", res.Reason)
		if err := b.store.AddEvent(ctx, a.ID, a.Name, "fork.fallback", msg); err != nil {
			return err
		}
	}
	if err := b.nodes.waitStandbys(ctx, a, nodes, progress); err != nil {
		return err
	}
	ni, err := b.hosts.Of(primary).Info(ctx, spec)
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "read the forked data's size on "+primary.Name)
	}
	if ni.UsedMemoryBytes > p.MaxMemoryBytes {
		return fault.E(fault.Invalid, "the forked data uses %s, more than the %s of %s:%s (the source grew during the fork); pick a larger plan",
			HumanBytes(ni.UsedMemoryBytes), HumanBytes(p.MaxMemoryBytes), a.Service, p.Name)
	}
	last.State, last.KeysDone, last.BytesDone = store.ForkDone, res.Keys, res.Bytes
	return b.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.FinishFork(ctx, a.ID, last); err != nil {
			return err
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "fork.done", fmt.Sprintf("forked from %s by %s: %d keys, %s in memory, in %v; now an independent primary",
			f.Source, methodText(res.Method), res.Keys, HumanBytes(ni.UsedMemoryBytes), res.Took.Round(time.Millisecond)))
	})
}

// forkError keeps a fork's failure readable: the provisioner's public
// messages never hold the password, and anything else becomes a short line.
func forkError(source string, err error) error {
	if fault.KindOf(err) == fault.Internal {
		return fault.Wrap(fault.Unavailable, err, "the fork from "+source+" failed")
	}
	return err
}

func methodText(m string) string {
	if m == engine.ForkCopy {
		return "copy (SCAN + DUMP/RESTORE)"
	}
	return "replication (SYNC)"
}

// forkReporter turns a running fork's progress into the operation's progress
// line and the fork's row, at most every forkReportEvery.
type forkReporter struct {
	b        *Addons
	a        store.Addon
	source   string
	progress func(string)

	mu     sync.Mutex
	last   time.Time
	method string
	state  store.ForkProgress
}

func (r *forkReporter) report(p engine.ForkProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := store.ForkProgress{State: store.ForkSyncing, Method: p.Method, Reason: p.Reason,
		BytesDone: p.BytesDone, BytesTotal: p.BytesTotal, KeysDone: p.KeysDone, KeysTotal: p.KeysTotal}
	if p.Method == engine.ForkCopy {
		st.State = store.ForkCopying
	}
	r.state = st
	if p.Method == r.method && time.Since(r.last) < forkReportEvery {
		return
	}
	r.method, r.last = p.Method, time.Now()
	r.progress(fmt.Sprintf("forking from %s by %s: %s", r.source, methodText(p.Method), progressText(p)))
	if err := r.b.store.UpdateForkProgress(context.Background(), r.a.ID, st); err != nil {
		r.b.log.WithError(err).WithField("addon", r.a.Name).Warn("record fork progress")
	}
}

// flush returns the last progress seen.
func (r *forkReporter) flush() store.ForkProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

func progressText(p engine.ForkProgress) string {
	s := p.Phase
	switch {
	case p.Method == engine.ForkCopy:
		s += fmt.Sprintf(", %d of %d keys (%s)", p.KeysDone, p.KeysTotal, HumanBytes(p.BytesDone))
	case p.BytesDone > 0 && p.BytesTotal > 0:
		s += fmt.Sprintf(", %s of %s", HumanBytes(p.BytesDone), HumanBytes(p.BytesTotal))
	case p.BytesDone > 0:
		s += ", " + HumanBytes(p.BytesDone)
	}
	return s
}

// forkInfo is a forked add-on's source and progress, for redis:info.
func forkInfo(f store.Fork) *api.ForkInfo {
	return &api.ForkInfo{Source: f.Source, State: f.State, Method: f.Method, Reason: f.Reason,
		BytesDone: f.BytesDone, BytesTotal: f.BytesTotal, KeysDone: f.KeysDone, KeysTotal: f.KeysTotal,
		StartedAt: f.CreatedAt, FinishedAt: f.FinishedAt}
}

// truncate shortens s for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// recordFork records a new add-on's fork source in the add-on's transaction.
func recordFork(ctx context.Context, tx store.Tx, a store.Addon, f store.Fork) error {
	f.AddonID = a.ID
	if err := tx.CreateFork(ctx, &f); err != nil {
		return err
	}
	return tx.AddEvent(ctx, a.ID, a.Name, "fork.request", "to be forked from "+f.Source)
}
