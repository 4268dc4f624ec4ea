package provisioner

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Lease fences an agent's primaries by itself when the agent is cut off: once
// no request from the broker has succeeded for the lease duration, and a
// primary has no online replica either (so it is the side of a partition that
// lost its standby), the agent pauses that primary's writes. The broker, before
// promoting a standby whose primary it cannot reach, waits out the same lease,
// so the old primary has stopped taking writes when the new one starts. A
// broker restart alone fences nothing: the primary still sees its replica.
// Writes stay paused until the broker, back in contact, decides: demote the
// node or resume it.
type Lease struct {
	h        *LocalHost
	duration time.Duration
	log      logrus.FieldLogger
	now      func() time.Time

	mu      sync.Mutex
	contact time.Time
	fenced  map[string]bool // node ids paused by this lease

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewLease starts a lease of duration over h's primaries.
func NewLease(h *LocalHost, duration time.Duration, log logrus.FieldLogger) *Lease {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lease{h: h, duration: duration, log: log.WithField("component", "lease"), now: time.Now,
		contact: time.Now(), fenced: map[string]bool{}, ctx: ctx, cancel: cancel}
	l.wg.Add(1)
	go l.loop()
	return l
}

// Track wraps the agent's handler: every request answered without error
// renews the lease.
func (l *Lease) Track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &agentStatusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		// Only the broker's (authenticated) calls renew the lease: an
		// observer reaching the health endpoint says nothing about whether
		// the broker can fence this host.
		if sw.status < 400 && r.URL.Path != HealthPath {
			l.mu.Lock()
			l.contact = l.now()
			if len(l.fenced) > 0 {
				// The broker is back: it demotes or resumes what was fenced.
				l.fenced = map[string]bool{}
			}
			l.mu.Unlock()
		}
	})
}

// Close stops the lease loop.
func (l *Lease) Close() {
	l.cancel()
	l.wg.Wait()
}

func (l *Lease) loop() {
	defer l.wg.Done()
	t := time.NewTicker(max(l.duration/5, 20*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		expired := l.now().Sub(l.contact) > l.duration
		l.mu.Unlock()
		if expired {
			l.fence()
		}
	}
}

// fence pauses writes on every supervised primary that has no online replica.
func (l *Lease) fence() {
	for _, spec := range l.h.supervisedSpecs() {
		l.mu.Lock()
		done := l.fenced[spec.ID]
		l.mu.Unlock()
		if done {
			continue
		}
		// On the host's held connection: a primary the app fills is fenced too.
		ctx, cancel := context.WithTimeout(l.ctx, time.Second)
		r, err := l.h.replication(ctx, spec)
		if err != nil || r.Role != "master" || hasLiveReplica(r, l.duration) {
			cancel()
			continue
		}
		_, err = l.h.adminDo(ctx, spec, "CLIENT", "PAUSE", strconv.FormatInt(time.Hour.Milliseconds(), 10), "WRITE")
		cancel()
		if err != nil {
			l.log.WithError(err).WithField("node", spec.Name).Warn("could not fence primary")
			continue
		}
		l.mu.Lock()
		l.fenced[spec.ID] = true
		l.mu.Unlock()
		l.log.WithField("node", spec.Name).Warn("lease expired: cut off from the broker and from its standby; writes paused")
	}
}

// hasLiveReplica reports whether a replica acknowledged the stream within
// maxLag. A cut-off replica stays "online" in INFO until the engine's
// repl-timeout (60 s); its lag (seconds since its last ack, sent every second)
// tells sooner.
func hasLiveReplica(r ReplInfo, maxLag time.Duration) bool {
	for _, ri := range r.Replicas {
		if ri.State == "online" && time.Duration(ri.LagSeconds)*time.Second <= maxLag {
			return true
		}
	}
	return false
}

// supervisedSpecs returns the specs of the nodes this host supervises.
func (h *LocalHost) supervisedSpecs() []NodeSpec {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]NodeSpec, 0, len(h.nodes))
	for _, m := range h.nodes {
		out = append(out, m.spec)
	}
	return out
}

// Resume lets a fenced primary take writes again (CLIENT UNPAUSE); the broker
// calls it for a node that is still the primary once contact is back.
func Resume(ctx context.Context, t Target) error {
	c := t.client()
	defer c.Close()
	if err := c.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		return t.fault(err, "resume writes")
	}
	return nil
}
