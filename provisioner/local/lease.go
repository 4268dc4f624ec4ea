package local

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/provisioner"
)

// leaseReason is why the lease pauses a primary.
const leaseReason = "lease expired (cut off from the broker and from its standby)"

// Lease fences an agent's primaries by itself when the agent is cut off: once
// no request from the broker has succeeded for the lease duration, and a
// primary has no online replica either (so it is the side of a partition that
// lost its standby), the agent pauses that primary's writes. The broker, before
// promoting a standby whose primary it cannot reach, waits out the same lease,
// so the old primary has stopped taking writes when the new one starts. A
// broker restart alone fences nothing: the primary still sees its replica.
//
// The pause is the host's recorded state (see Pause): reported in the host's
// status, applied again if the node restarts while the lease is out, and
// kept when contact comes back, until the broker decides with the epoch:
// it confirms the node's role (SetRole lifts the pause) or demotes it, or
// removes it when it lost its role. A broker that never returns leaves the
// primary paused: that is the fence.
type Lease struct {
	h        *Host
	duration time.Duration
	log      logrus.FieldLogger
	now      func() time.Time

	mu      sync.Mutex
	contact time.Time
	nagged  time.Time // last "still paused" log

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// leaseNagEvery is how often a cut-off agent repeats that writes stay paused.
const leaseNagEvery = 30 * time.Second

// NewLease starts a lease of duration over h's primaries.
func NewLease(h *Host, duration time.Duration, log logrus.FieldLogger) *Lease {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lease{h: h, duration: duration, log: log.WithField("component", "lease"), now: time.Now,
		contact: time.Now(), ctx: ctx, cancel: cancel}
	l.wg.Add(1)
	go l.loop()
	return l
}

// Renew records contact with the broker now: the agent calls it for each of
// the broker's requests it answered without error.
func (l *Lease) Renew() {
	l.mu.Lock()
	l.contact = l.now()
	l.mu.Unlock()
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
		since := l.contact
		expired := l.now().Sub(since) > l.duration
		l.mu.Unlock()
		if expired {
			l.fence(since)
		}
	}
}

// fence pauses writes on every supervised primary that has no online
// replica, and applies again the pauses it holds (a node restarted in place
// comes back without its pause).
func (l *Lease) fence(contact time.Time) {
	paused := 0
	for _, spec := range l.h.supervisedSpecs() {
		// On the host's held connection: a primary the app fills is fenced too.
		ctx, cancel := context.WithTimeout(l.ctx, time.Second)
		if l.h.pausedBy(spec) == nil {
			r, err := l.h.replication(ctx, spec)
			if err != nil || r.Role != "master" || hasLiveReplica(r, l.duration) {
				cancel()
				continue
			}
		}
		err := l.h.pauseWrites(ctx, spec, provisioner.PauseOwnerLease, leaseReason)
		cancel()
		if err != nil {
			l.log.WithError(err).WithField("node", spec.Name).Warn("could not fence primary")
			continue
		}
		paused++
	}
	l.mu.Lock()
	nag := paused > 0 && l.now().Sub(l.nagged) >= leaseNagEvery
	if nag {
		l.nagged = l.now()
	}
	l.mu.Unlock()
	if nag {
		l.log.WithFields(logrus.Fields{"primaries": paused, "last_contact": contact.UTC().Format(time.RFC3339)}).
			Warn("cut off from the broker: writes stay paused until it decides")
	}
}

// hasLiveReplica reports whether a replica acknowledged the stream within
// maxLag. A cut-off replica stays "online" in INFO until the engine's
// repl-timeout (60 s); its lag (seconds since its last ack, sent every second)
// tells sooner.
func hasLiveReplica(r engine.ReplInfo, maxLag time.Duration) bool {
	for _, ri := range r.Replicas {
		if ri.State == "online" && time.Duration(ri.LagSeconds)*time.Second <= maxLag {
			return true
		}
	}
	return false
}

// supervisedSpecs returns the specs of the nodes this host supervises.
func (h *Host) supervisedSpecs() []provisioner.NodeSpec {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]provisioner.NodeSpec, 0, len(h.nodes))
	for _, m := range h.nodes {
		out = append(out, m.spec)
	}
	return out
}
