// Package logs is the broker's service behind `larder logs`: an app's
// add-ons' node log lines (every node, read through its host) and larder's
// events about them, merged in time order, as a first read of the last lines
// or a tail that waits for the next ones. A tail waits on the hosts (each
// waits for a write to its node's log) and on the change feed (events) at
// once, as one waiter of the caller's token, and holds nothing once the
// caller goes.
package logs

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/broker/changes"
	"larder/broker/hostset"
	"larder/engine"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// Logs reads apps' logs.
type Logs struct {
	store store.Store
	hosts *hostset.Set
	nodes Nodes
	feed  *changes.Feed
	log   logrus.FieldLogger
}

// Deps are the parts of the broker logs are read with.
type Deps struct {
	Store store.Store
	Hosts *hostset.Set
	Nodes Nodes
	Feed  *changes.Feed
	Log   logrus.FieldLogger
}

// Nodes gives an add-on's nodes with their specs (the host needs the spec to
// find the node's log, and its passwords to redact).
type Nodes interface {
	SpecsOf(ctx context.Context, q store.Q, a store.Addon) ([]store.Node, []provisioner.NodeSpec, error)
}

// New returns the logs service.
func New(d Deps) *Logs {
	return &Logs{store: d.Store, hosts: d.Hosts, nodes: d.Nodes, feed: d.Feed, log: d.Log}
}

// Bounds of one read.
const (
	// tailRead bounds what one read takes from one node's log; a node that
	// wrote more is read on by the next request.
	tailRead = 64 << 10
	// maxEventReads bounds the feed batches one read goes through.
	maxEventReads = 8
)

// Query is a logs read, as api.LogQuery.
type Query struct {
	Lines  int
	Source string
	Cursor string
	Wait   time.Duration
}

// Read answers a logs read of app: without a cursor the last q.Lines lines;
// with one, the lines after it, waiting up to q.Wait for one (as a waiter of
// key, the caller's token).
func (s *Logs) Read(ctx context.Context, key, appName string, q Query) (api.LogBatch, error) {
	if err := check(&q); err != nil {
		return api.LogBatch{}, err
	}
	app, err := s.store.AppByName(ctx, appName)
	if err != nil {
		return api.LogBatch{}, err
	}
	var cur cursor
	if q.Cursor != "" {
		if cur, err = decodeCursor(q.Cursor); err != nil {
			return api.LogBatch{}, err
		}
	}
	if q.Wait > 0 {
		release, err := s.feed.Join(key)
		if err != nil {
			return api.LogBatch{}, err
		}
		defer release()
	}
	if q.Cursor == "" {
		return s.recent(ctx, app, q)
	}
	batch, next, err := s.after(ctx, app, q, cur)
	if err != nil || len(batch.Lines) > 0 || q.Wait <= 0 {
		return batch, err
	}
	if err := s.wait(ctx, app, q, next); err != nil {
		return api.LogBatch{}, err
	}
	batch, _, err = s.after(ctx, app, q, next)
	return batch, err
}

// check validates a query, filling its defaults.
func check(q *Query) error {
	switch {
	case q.Lines == 0:
		q.Lines = api.DefaultLogLines
	case q.Lines < 0 || q.Lines > api.MaxLogLines:
		return fault.E(fault.Invalid, "lines %d: ask for 1 to %d", q.Lines, api.MaxLogLines)
	}
	switch q.Source {
	case "", api.LogSourceRedis, api.LogSourceLarder:
	default:
		return fault.E(fault.Invalid, "source %q: use %s (the nodes' logs) or %s (larder's events)",
			engine.Truncate(q.Source, 40), api.LogSourceRedis, api.LogSourceLarder)
	}
	if q.Wait < 0 {
		return fault.E(fault.Invalid, "wait %s is negative", q.Wait)
	}
	q.Wait = min(q.Wait, api.MaxWait)
	return nil
}

func (q Query) nodes() bool  { return q.Source != api.LogSourceLarder }
func (q Query) events() bool { return q.Source != api.LogSourceRedis }

// target is one add-on of the app, as its lines name it.
type target struct {
	addon      store.Addon
	attachment string
	nodes      []node
}

type node struct {
	n    store.Node
	spec provisioner.NodeSpec
}

func (t target) line(source string, n *store.Node, at time.Time, text string) api.LogLine {
	l := api.LogLine{At: at, Source: source, Attachment: t.attachment, Addon: t.addon.Name, Text: text}
	if n != nil {
		l.Role, l.Host = n.Role, n.Host
	}
	return l
}

// secrets are every password of the add-on's nodes.
func (t target) secrets() []string {
	var out []string
	for _, n := range t.nodes {
		out = append(out, n.spec.Passwords()...)
	}
	return out
}

// targets lists the add-ons attached to app, each under its first
// attachment name there, with their nodes.
func (s *Logs) targets(ctx context.Context, app store.App) ([]target, error) {
	atts, err := s.store.AttachmentsOfApp(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(atts, func(i, j int) bool { return atts[i].CreatedAt.Before(atts[j].CreatedAt) })
	var out []target
	seen := map[string]bool{}
	for _, at := range atts {
		if seen[at.AddonID] {
			continue
		}
		seen[at.AddonID] = true
		a, err := s.store.AddonByID(ctx, at.AddonID)
		if fault.KindOf(err) == fault.NotFound {
			continue // destroyed meanwhile
		}
		if err != nil {
			return nil, err
		}
		ns, specs, err := s.nodes.SpecsOf(ctx, s.store, a)
		if err != nil {
			return nil, err
		}
		t := target{addon: a, attachment: at.Name}
		for i := range ns {
			t.nodes = append(t.nodes, node{n: ns[i], spec: specs[i]})
		}
		out = append(out, t)
	}
	return out, nil
}

// nodeRead is one node's read: where it started and what it found.
type nodeRead struct {
	t     *target
	n     *node
	from  int64
	chunk provisioner.LogChunk
	err   error
}

// readNodes reads every node's log at once, each from from(node). A host
// that does not answer costs the read its own call bound (an agent's
// timeout), once.
func (s *Logs) readNodes(ctx context.Context, ts []target, limit int, from func(store.Node) int64) []nodeRead {
	var reads []nodeRead
	for i := range ts {
		for j := range ts[i].nodes {
			reads = append(reads, nodeRead{t: &ts[i], n: &ts[i].nodes[j], from: from(ts[i].nodes[j].n)})
		}
	}
	var wg sync.WaitGroup
	for i := range reads {
		r := &reads[i]
		wg.Go(func() {
			r.chunk, r.err = s.hosts.Of(r.n.n).Logs(ctx, r.n.spec, provisioner.LogRequest{From: r.from, Max: limit})
		})
	}
	wg.Wait()
	return reads
}

// lines turns a node's read into log lines. A line without a time of its own
// takes its neighbour's (the one before, or for the first lines the first
// that has one), so the merge keeps it in place.
func (r nodeRead) lines(now time.Time) []api.LogLine {
	secrets := r.t.secrets()
	prev := now
	for _, l := range r.chunk.Lines {
		if !l.At.IsZero() {
			prev = l.At
			break
		}
	}
	out := make([]api.LogLine, 0, len(r.chunk.Lines))
	for _, l := range r.chunk.Lines {
		if !l.At.IsZero() {
			prev = l.At
		}
		// The host redacted already; an older agent may not have.
		out = append(out, r.t.line(api.LogSourceRedis, &r.n.n, prev, engine.Redact(l.Text, secrets...)))
	}
	return out
}

// note is the line that says a node's log could not be read.
func (r nodeRead) note(now time.Time) api.LogLine {
	return r.t.line(api.LogSourceLarder, &r.n.n, now,
		"cannot read the "+r.n.n.Role+"'s log on host "+r.n.n.Host+": "+fault.Message(r.err))
}

// eventLine is an event as a log line, with the add-on's passwords redacted
// (events never carry one; this keeps it so).
func (t target) eventLine(e store.Event) api.LogLine {
	return t.line(api.LogSourceLarder, nil, e.CreatedAt, engine.Redact(e.Kind+": "+e.Message, t.secrets()...))
}

// merge sorts lines by time, keeping each source's order among equal times.
func merge(lines []api.LogLine) []api.LogLine {
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })
	return lines
}

func eventID(c store.Change) (int64, bool) {
	if c.Kind != api.ChangeEvent {
		return 0, false
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	return id, err == nil
}
