package logs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"larder/api"
	"larder/fault"
	"larder/provisioner"
	"larder/store"
)

// cursor is where a reader is in an app's logs: in the change feed (for
// events), and in each node's log. It travels as opaque text, so a tail
// holds nothing on the broker between its requests.
type cursor struct {
	Feed int64 `json:"f"`
	// Event is the newest event the first read showed: the feed after Feed
	// may hold it again.
	Event int64           `json:"e,omitempty"`
	Nodes map[string]mark `json:"n,omitempty"`
}

// mark is where a reader is in one node's log.
type mark struct {
	Off int64 `json:"o"` // negative: the node was not read yet; read its tail
	// Failing says the node's log could not be read last time, so the
	// reader was told once and is not told again.
	Failing bool `json:"x,omitempty"`
}

// maxCursor bounds a cursor's text: a few add-ons' nodes fit many times.
const maxCursor = 16 << 10

func (c cursor) encode() string {
	data, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	bad := fault.E(fault.Invalid, "cursor is not one a logs read returned: read again without it")
	if len(s) > maxCursor {
		return c, bad
	}
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(data, &c) != nil || c.Feed < 0 {
		return c, bad
	}
	return c, nil
}

// recent is a first read: the last q.Lines lines of every source.
func (s *Logs) recent(ctx context.Context, app store.App, q Query) (api.LogBatch, error) {
	// The feed's head is read before the events, so an event committed
	// meanwhile is shown by the next read rather than missed.
	head, err := s.store.ChangeHead(ctx)
	if err != nil {
		return api.LogBatch{}, err
	}
	ts, err := s.targets(ctx, app)
	if err != nil {
		return api.LogBatch{}, err
	}
	cur, now := cursor{Feed: head, Nodes: map[string]mark{}}, time.Now()
	var lines []api.LogLine
	if q.nodes() {
		limit := min(provisioner.MaxLogRead, max(tailRead, q.Lines*256))
		for _, r := range s.readNodes(ctx, ts, limit, func(store.Node) int64 { return -1 }) {
			if r.err != nil {
				if ctx.Err() != nil {
					return api.LogBatch{}, ctx.Err()
				}
				lines = append(lines, r.note(now))
				cur.Nodes[r.n.n.ID] = mark{Off: -1, Failing: true}
				continue
			}
			lines = append(lines, r.lines(now)...)
			cur.Nodes[r.n.n.ID] = mark{Off: r.chunk.Next}
		}
	}
	if q.events() {
		for i := range ts {
			evs, err := s.store.EventsOfAddon(ctx, ts[i].addon.ID)
			if err != nil {
				return api.LogBatch{}, err
			}
			evs = evs[max(0, len(evs)-q.Lines):]
			for _, e := range evs {
				lines = append(lines, ts[i].eventLine(e))
				cur.Event = max(cur.Event, e.ID)
			}
		}
	}
	lines = merge(lines)
	lines = lines[max(0, len(lines)-q.Lines):]
	return api.LogBatch{Lines: nonNil(lines), Cursor: cur.encode()}, nil
}

// after reads what came after cur, without waiting, and returns it with the
// cursor after it.
func (s *Logs) after(ctx context.Context, app store.App, q Query, cur cursor) (api.LogBatch, cursor, error) {
	ts, err := s.targets(ctx, app)
	if err != nil {
		return api.LogBatch{}, cur, err
	}
	next, now := cursor{Feed: cur.Feed, Event: cur.Event, Nodes: map[string]mark{}}, time.Now()
	var lines []api.LogLine
	if q.nodes() {
		from := func(n store.Node) int64 {
			if m, ok := cur.Nodes[n.ID]; ok {
				return m.Off
			}
			return 0 // a node that came after the first read: all of it is new
		}
		for _, r := range s.readNodes(ctx, ts, tailRead, from) {
			if r.err != nil {
				if ctx.Err() != nil {
					return api.LogBatch{}, cur, ctx.Err()
				}
				if !cur.Nodes[r.n.n.ID].Failing {
					lines = append(lines, r.note(now))
				}
				next.Nodes[r.n.n.ID] = mark{Off: r.from, Failing: true}
				continue
			}
			lines = append(lines, r.lines(now)...)
			next.Nodes[r.n.n.ID] = mark{Off: r.chunk.Next}
		}
	}
	// The feed is read on whatever the source, so a wait starts after what
	// this read has seen.
	events := map[string]map[int64]bool{} // by add-on id
	for range maxEventReads {
		cs, n, _, err := s.store.AppChanges(ctx, app.ID, next.Feed, feedBatch)
		if err != nil {
			return api.LogBatch{}, cur, err
		}
		next.Feed = n
		for _, c := range cs {
			if id, ok := eventID(c); ok && id > cur.Event {
				if events[c.AddonID] == nil {
					events[c.AddonID] = map[int64]bool{}
				}
				events[c.AddonID][id] = true
			}
		}
		if len(cs) < feedBatch {
			break
		}
	}
	if q.events() {
		for i := range ts {
			ids := events[ts[i].addon.ID]
			if len(ids) == 0 {
				continue
			}
			evs, err := s.store.EventsOfAddon(ctx, ts[i].addon.ID)
			if err != nil {
				return api.LogBatch{}, cur, err
			}
			for _, e := range evs {
				if ids[e.ID] {
					lines = append(lines, ts[i].eventLine(e))
				}
			}
		}
	}
	return api.LogBatch{Lines: nonNil(merge(lines)), Cursor: next.encode()}, next, nil
}

// feedBatch bounds the changes one read of the feed returns.
const feedBatch = 500

// wait returns once something after cur may be there to read: a node wrote
// to its log (its host waits for that), or the feed has an event or a
// change of the add-ons or nodes (a node may have come); or after q.Wait.
// Everything it started has ended when it returns.
func (s *Logs) wait(ctx context.Context, app store.App, q Query, cur cursor) error {
	ts, err := s.targets(ctx, app)
	if err != nil {
		return err
	}
	// The waits end by cancellation, never by a deadline of ours: a host
	// waits q.Wait itself and answers, and a remote host's call cut by a
	// deadline would count as the agent not answering.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.NewTimer(q.Wait)
	defer timer.Stop()
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	if q.nodes() {
		for _, t := range ts {
			for _, n := range t.nodes {
				m, ok := cur.Nodes[n.n.ID]
				if !ok || m.Failing {
					continue // read by after; a failing host says so at once
				}
				wg.Go(func() {
					c, err := s.hosts.Of(n.n).Logs(wctx, n.spec, provisioner.LogRequest{From: m.Off, Max: tailRead, Wait: q.Wait})
					if err == nil && (len(c.Lines) > 0 || c.Reset) {
						poke()
					}
				})
			}
		}
	}
	var feedErr error
	want := func(c store.Change) bool {
		switch c.Kind {
		case api.ChangeEvent:
			return q.events()
		case api.ChangeNode, api.ChangeAddon, api.ChangeAttachment:
			return true
		}
		return false
	}
	wg.Go(func() {
		found, err := s.feed.WaitAppChange(wctx, app.ID, cur.Feed, q.Wait, want)
		if err != nil && wctx.Err() == nil && !errors.Is(err, context.Canceled) {
			feedErr = err // the broker is stopping
		}
		if found || feedErr != nil {
			poke()
		}
	})
	select {
	case <-wake:
	case <-timer.C:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return feedErr
}

func nonNil(lines []api.LogLine) []api.LogLine {
	if lines == nil {
		return []api.LogLine{}
	}
	return lines
}
