package broker

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"larder/api"
	"larder/broker/apps"
	"larder/broker/attach"
	"larder/catalog"
	"larder/fault"
	"larder/store"
)

// writeAddons renders a listing: addons with their attachments, those of
// the add-ons AddonsOfApp(appID) lists (of every add-on when appID is "").
// Whatever the listing's length, it asks the store twice: once for the
// attachments of all, once per node a host reports writes paused on.
func (b *Addons) writeAddons(ctx context.Context, addons []store.Addon, appID string) ([]api.Addon, error) {
	atts, err := b.store.AttachmentsOfAddons(ctx, appID)
	if err != nil {
		return nil, err
	}
	byAddon := make(map[string][]store.Attachment, len(addons))
	for i := 0; i < len(atts); {
		j := i + 1
		for j < len(atts) && atts[j].AddonID == atts[i].AddonID {
			j++
		}
		byAddon[atts[i].AddonID] = atts[i:j:j]
		i = j
	}
	paused := b.pairs.WritesPausedOf(ctx, addons)
	out := make([]api.Addon, 0, len(addons))
	for _, a := range addons {
		j := apps.AddonView(a, byAddon[a.ID])
		j.WritesPaused = paused[a.ID]
		out = append(out, j)
	}
	return out, nil
}

func (b *Addons) ListAddons(ctx context.Context) ([]api.Addon, error) {
	all, err := b.store.ListedAddons(ctx, "")
	if err != nil {
		return nil, err
	}
	addons := all[:0]
	for _, a := range all {
		if listed(a, nil, "") {
			addons = append(addons, a)
		}
	}
	return b.writeAddons(ctx, addons, "")
}

func (b *Addons) ListAppAddons(ctx context.Context, appName string) ([]api.Addon, error) {
	app, err := b.store.AppByName(ctx, appName)
	if err != nil {
		return nil, err
	}
	addons, err := b.store.ListedAddons(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	return b.writeAddons(ctx, addons, app.ID)
}

// listingLookAhead bounds the changes ListingChanged reads: past that many,
// reading the listing again costs about as much as reading them.
const listingLookAhead = 2000

// listingPatchMost bounds the add-ons ListingChanged names to be read again
// one by one: past that many, reading the whole listing costs less.
const listingPatchMost = 100

// ListingChange is what changed of the listings since a cursor: the add-ons
// to read again (ListedViews), or, when Whole, every listing.
type ListingChange struct {
	Whole  bool
	Addons []string // ids
}

// Changed says whether a listing may show anything else now.
func (c ListingChange) Changed() bool { return c.Whole || len(c.Addons) > 0 }

// ListingChanged says what a listing shows may have changed since change
// cursor (0 for never read), and the cursor to ask with next time: a
// listing read after this call is at least as new as next. A listing shows
// an add-on's own row (its state, plan, settings, engine, owner, …) and its
// attachments, and an app's deletion changes every listing; operations,
// events, nodes, config vars and backups are not in it.
func (b *Addons) ListingChanged(ctx context.Context, cursor int64) (next int64, ch ListingChange, err error) {
	if cursor <= 0 {
		next, err = b.store.ChangeHead(ctx)
		return next, ListingChange{Whole: true}, err
	}
	changes, next, reset, err := b.store.Changes(ctx, cursor, listingLookAhead)
	if err != nil || reset || len(changes) == listingLookAhead {
		return next, ListingChange{Whole: true}, err
	}
	seen := map[string]bool{}
	for _, c := range changes {
		switch {
		case c.Kind == "app", (c.Kind == "addon" || c.Kind == "attachment") && c.AddonID == "":
			return next, ListingChange{Whole: true}, nil
		case c.Kind == "addon" || c.Kind == "attachment":
			if !seen[c.AddonID] {
				seen[c.AddonID] = true
				ch.Addons = append(ch.Addons, c.AddonID)
			}
		}
	}
	if len(ch.Addons) > listingPatchMost {
		return next, ListingChange{Whole: true}, nil
	}
	return next, ch, nil
}

// ListedViews is what a listing of app's add-ons (of every add-on when app
// is "") now shows of the add-ons ids, by id: one not in that listing (gone,
// a spare, neither owned by nor attached to app) is not in the map. The
// write pauses hosts report are not in them.
func (b *Addons) ListedViews(ctx context.Context, app string, ids []string) (map[string]api.Addon, error) {
	appID := ""
	if app != "" {
		a, err := b.store.AppByName(ctx, app)
		if err != nil {
			return nil, err
		}
		appID = a.ID
	}
	out := make(map[string]api.Addon, len(ids))
	for _, id := range ids {
		a, err := b.store.AddonByID(ctx, id)
		if fault.KindOf(err) == fault.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		atts, err := b.store.AttachmentsOfAddon(ctx, id)
		if err != nil {
			return nil, err
		}
		if listed(a, atts, appID) {
			out[id] = apps.AddonView(a, atts)
		}
	}
	return out, nil
}

// listed says whether a listing of app appID's add-ons (of every add-on
// when appID is "") shows a, attached as atts: an app's shows what it owns
// or is attached to, the whole one every add-on but the spares.
func listed(a store.Addon, atts []store.Attachment, appID string) bool {
	if appID == "" {
		return a.AppName != apps.SparesApp
	}
	return a.AppID == appID || slices.ContainsFunc(atts, func(at store.Attachment) bool { return at.AppID == appID })
}

// AnyWritesPaused says whether a host reports writes paused on any node: a
// full listing then shows more than the store holds, which no change
// cursor versions.
func (b *Addons) AnyWritesPaused() bool { return b.pairs.AnyWritesPaused() }

// GetAddon is add-on addonName, resolved in the context of appName (empty
// for a global reference).
func (b *Addons) GetAddon(ctx context.Context, appName, addonName string) (api.Addon, error) {
	a, err := apps.Resolve(ctx, b.store, appName, addonName)
	if err != nil {
		return api.Addon{}, err
	}
	j, err := apps.AddonJSON(ctx, b.store, a)
	if err != nil {
		return api.Addon{}, err
	}
	j.WritesPaused = b.pairs.WritesPaused(ctx, a)
	return j, nil
}

// createOptions are the provider options addons:create accepts. fork is
// checked by checkFork: it needs the store and the source; restore (a
// backup's id) by the backup service.
var createOptions = []string{"maxmemory_policy", "fork", "restore"}

func checkCreateOptions(cfg map[string]string) (policy string, err error) {
	for k := range cfg {
		known := false
		for _, o := range createOptions {
			known = known || k == o
		}
		if !known {
			return "", fault.E(fault.Invalid, "unknown option %q; supported: %s", k, strings.Join(createOptions, ", "))
		}
	}
	policy = catalog.DefaultMaxMemoryPolicy
	if p, ok := cfg["maxmemory_policy"]; ok {
		policy = p
	}
	return policy, catalog.ValidateMaxMemoryPolicy(policy)
}

// createAddon validates the request, records the add-on, its attachment, its
// node (claiming a port) and a provision operation in one transaction, then
// starts the node in the background: 202 + an operation to poll.
func (b *Addons) CreateAddon(ctx context.Context, appName string, req api.AddonCreate) (api.AddonResult, error) {
	svc, plan, err := b.cfg.Catalog.Resolve(req.Plan)
	if err != nil {
		return api.AddonResult{}, err
	}
	policy, err := checkCreateOptions(req.Config)
	if err != nil {
		return api.AddonResult{}, err
	}
	attName := ""
	if req.Attachment != "" {
		if attName, err = attach.CheckAttachmentName(req.Attachment); err != nil {
			return api.AddonResult{}, err
		}
	}
	if req.Name != "" {
		if err := attach.CheckAddonName(req.Name); err != nil {
			return api.AddonResult{}, err
		}
	}

	// A fork source is checked last: it is the one check that goes out to the network.
	restore := req.Config["restore"]
	if restore != "" {
		if _, ok := req.Config["fork"]; ok {
			return api.AddonResult{}, fault.E(fault.Invalid, "a new add-on takes its data from a fork or from a backup, not both")
		}
		if err := b.backups.CheckRestoreSource(ctx, appName, restore); err != nil {
			return api.AddonResult{}, err
		}
	}
	var fork *store.Fork
	if ref, ok := req.Config["fork"]; ok {
		if fork, err = b.checkFork(ctx, appName, ref, svc.Name, plan); err != nil {
			return api.AddonResult{}, err
		}
	}
	// A request with no provider options takes a started spare when one is
	// ready: it is the add-on the request would have made, already running.
	if len(req.Config) == 0 {
		a, ok, err := b.spares.Take(ctx, appName, req.Name, attName, svc, plan)
		if err != nil {
			return api.AddonResult{}, err
		}
		if ok {
			j, err := apps.AddonJSON(ctx, b.store, a)
			return api.AddonResult{Addon: j}, err
		}
	}
	var a store.Addon
	var op store.Operation
	for try := 0; ; try++ {
		name := req.Name
		if name == "" {
			name = attach.NewAddonName()
		}
		a, op, err = b.recordAddon(ctx, appName, name, attName, svc.Name, plan.Name, policy, fork, restore)
		// A generated name that happens to be taken is retried; a chosen one is not.
		if err == nil || req.Name != "" || fault.KindOf(err) != fault.Conflict || !strings.Contains(fault.Message(err), name) || try >= 5 {
			break
		}
	}
	if err != nil {
		return api.AddonResult{}, err
	}
	b.log.WithFields(map[string]any{"addon": a.Name, "app": a.AppName, "plan": plan.Name}).Info("provisioning add-on")
	b.jobs.Run(b.store, op, b.nodes.ProvisionStep(a.ID, false))
	return apps.OperationResult(ctx, b.store, a, op, fmt.Sprintf("%s is being created in the background", a.Name))
}

func (b *Addons) recordAddon(ctx context.Context, appName, name, attName, service, plan, policy string, fork *store.Fork, restore string) (a store.Addon, op store.Operation, err error) {
	err = b.store.InTx(ctx, func(tx store.Tx) error {
		a, op, err = b.RecordAddonTx(ctx, tx, appName, name, attName, service, plan, policy)
		if err == nil && fork != nil {
			err = recordFork(ctx, tx, a, *fork)
		}
		if err == nil && restore != "" {
			err = tx.SetRestoreSource(ctx, a.ID, restore)
		}
		return err
	})
	return a, op, err
}

// RecordAddonTx is recordAddon inside tx, so that a caller can record more in
// the same transaction (an OSB instance and the app that owns it).
func (b *Addons) RecordAddonTx(ctx context.Context, tx store.Tx, appName, name, attName, service, plan, policy string) (a store.Addon, op store.Operation, err error) {
	err = func() error {
		app, err := tx.AppByName(ctx, appName)
		if err != nil {
			return err
		}
		a = store.Addon{
			Name: name, Service: service, Plan: plan, AppID: app.ID, AppName: app.Name,
			State: api.StateProvisioning, MaxMemoryPolicy: policy,
			AdminPassword: attach.NewSecret(), CustomerUser: "default", CustomerPassword: attach.NewSecret(),
			ReplPassword: attach.NewSecret(),
		}
		if err := tx.CreateAddon(ctx, &a); err != nil {
			return err
		}
		if attName, err = b.AttachNew(ctx, tx, app, a, attName); err != nil {
			return err
		}
		p, err := b.nodes.PlanOf(a)
		if err != nil {
			return err
		}
		if err := b.nodes.claimNodes(ctx, tx, a, p); err != nil {
			return err
		}
		if err := b.backups.AddonRecorded(ctx, tx, a, p); err != nil {
			return err
		}
		if _, err := b.nodes.claimEdge(ctx, tx, a); err != nil {
			return err
		}
		op = store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "provision", State: api.OpPending}
		b.jobs.Lease(&op)
		if err := tx.CreateOperation(ctx, &op); err != nil {
			return err
		}
		msg := fmt.Sprintf("%s:%s requested for %s as %s", service, plan, app.Name, attName)
		if app.Name == apps.SparesApp {
			msg = fmt.Sprintf("%s:%s started as a spare, to be handed over to the first request for the plan", service, plan)
		}
		return tx.AddEvent(ctx, a.ID, a.Name, "addon.create", msg)
	}()
	return a, op, err
}

// AttachNew attaches a new add-on a to app as attName, or as the next free
// name when attName is "", and returns the name. The add-on's vars replace
// any the user set by hand (as on Heroku).
func (b *Addons) AttachNew(ctx context.Context, tx store.Tx, app store.App, a store.Addon, attName string) (string, error) {
	atts, err := tx.AttachmentsOfApp(ctx, app.ID)
	if err != nil {
		return "", err
	}
	used := map[string]bool{}
	for _, at := range atts {
		used[at.Name] = true
	}
	switch {
	case attName == "":
		attName = attach.NextAttachmentName(b.cfg.VarPrefix, used)
	case used[attName]:
		return "", fault.E(fault.Conflict, "attachment name %s is already used on %s; choose another with --as", attName, app.Name)
	}
	if err := tx.CreateAttachment(ctx, &store.Attachment{AddonID: a.ID, AppID: app.ID, Name: attName}); err != nil {
		return "", err
	}
	for _, v := range attach.Vars(attName) {
		if err := tx.UnsetUserVar(ctx, app.ID, v); err != nil {
			return "", err
		}
	}
	return attName, nil
}

// destroyAddon removes the add-on's attachments (and so its vars on every app)
// at once, then stops and deletes its nodes in the background.
func (b *Addons) DestroyAddon(ctx context.Context, appName string, addonName string, req api.AddonDestroy) (api.AddonResult, error) {
	var a store.Addon
	var op store.Operation
	err := b.store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if a, err = apps.Resolve(ctx, tx, appName, addonName); err != nil {
			return err
		}
		if a.AppName != appName {
			return fault.E(fault.Conflict, "%s is owned by %s, not %s: destroy it from %s, or detach it from %s", a.Name, a.AppName, appName, a.AppName, appName)
		}
		if req.Confirm != a.AppName {
			return fault.E(fault.Confirmation, "destroying %s deletes its data; to proceed, re-run with --confirm %s", a.Name, a.AppName)
		}
		if a.State == api.StateDeprovisioning {
			return fault.E(fault.Conflict, "%s is already being destroyed", a.Name)
		}
		atts, err := tx.AttachmentsOfAddon(ctx, a.ID)
		if err != nil {
			return err
		}
		var others []string
		for _, at := range atts {
			if at.AppID != a.AppID {
				others = append(others, at.AppName+"::"+at.Name)
			}
		}
		if len(others) > 0 && !req.Force {
			sort.Strings(others)
			return fault.E(fault.Conflict, "%s is also attached to other apps (%s); detach it there or use --force", a.Name, strings.Join(others, ", "))
		}
		if err := b.BeginDestroy(ctx, tx, a, "destroy requested by "+appName); err != nil {
			return err
		}
		op = store.Operation{AddonID: a.ID, AddonName: a.Name, Kind: "deprovision", State: api.OpPending}
		b.jobs.Lease(&op)
		return tx.CreateOperation(ctx, &op)
	})
	if err != nil {
		return api.AddonResult{}, err
	}
	b.log.WithField("addon", a.Name).Info("destroying add-on")
	b.jobs.Run(b.store, op, b.nodes.DeprovisionStep(a.ID))
	a.State = api.StateDeprovisioning
	return apps.OperationResult(ctx, b.store, a, op, fmt.Sprintf("%s is being destroyed", a.Name))
}

// BeginDestroy moves a to deprovisioning in tx: its attachments, and so the
// vars they give every app, go at once; a deprovision operation running
// DeprovisionStep stops and deletes the nodes.
func (b *Addons) BeginDestroy(ctx context.Context, tx store.Tx, a store.Addon, why string) error {
	if err := tx.SetAddonState(ctx, a.ID, api.StateDeprovisioning, ""); err != nil {
		return err
	}
	if err := tx.DeleteAttachmentsOfAddon(ctx, a.ID); err != nil {
		return err
	}
	return tx.AddEvent(ctx, a.ID, a.Name, "addon.destroy", why)
}

func (b *Addons) ListServices(ctx context.Context) ([]api.Service, error) {
	out := []api.Service{}
	for _, s := range b.cfg.Catalog.Services {
		out = append(out, api.Service{Name: s.Name, HumanName: s.HumanName, Description: s.Description})
	}
	return out, nil
}

func (b *Addons) ListPlans(ctx context.Context, serviceName string) ([]api.Plan, error) {
	svc, err := b.cfg.Catalog.Service(serviceName)
	if err != nil {
		return nil, err
	}
	out := []api.Plan{}
	for _, p := range svc.Plans {
		out = append(out, api.Plan{Name: svc.Name + ":" + p.Name, HumanName: p.HumanName, Description: p.Description,
			MaxMemoryBytes: p.MaxMemoryBytes, MaxClients: p.MaxClients, Persistence: p.Persistence, HA: p.HA,
			PriceCents: p.PriceCents, Default: p == *svc.DefaultPlan()})
	}
	return out, nil
}
