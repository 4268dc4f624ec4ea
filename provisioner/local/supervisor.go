package local

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/fault"
	"larder/internal/backoff"
	"larder/internal/ratelog"
	"larder/provisioner"
)

// managed is a node under a Host's care.
type managed struct {
	id, name string // from the spec; never change
	dir      string
	log      logrus.FieldLogger
	limiter  *ratelog.Limiter

	ctx    context.Context // ends when the node is stopped (or the host gives up on it)
	cancel context.CancelFunc
	ops    sync.WaitGroup // its in-flight start, adoption, check or restart

	// Guarded by Host.mu.
	spec     provisioner.NodeSpec // replaced by Reconfigure; restarts use the latest
	proc     *engine.Process
	conn     *heldConn   // larder's own connection, from the first start on
	busy     bool        // a start or check owns the node right now
	down     bool        // its process is gone and a restart is due
	failed   bool        // crash loop: no more restarts
	lastOK   time.Time   // last answer of any kind (or the start)
	restarts []time.Time // restarts within CrashLoopWindow

	cpu          int64     // the process's CPU time at the last check
	lastProgress time.Time // when its CPU time last advanced
	unresponsive bool      // stuck past HangTimeout, waiting out the longer window
}

// reserve registers a node that is about to be started or adopted, so that
// nothing else starts it meanwhile and Stop can cancel the start. The caller
// owns one count of m.ops.
func (h *Host) reserve(spec provisioner.NodeSpec) (*managed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fault.E(fault.Unavailable, "host %s is closed", h.opts.Name)
	}
	if _, ok := h.nodes[spec.ID]; ok {
		return nil, fault.E(fault.Conflict, "node %s is already running on host %s", spec.Name, h.opts.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &managed{
		id:      spec.ID,
		name:    spec.Name,
		spec:    spec,
		dir:     h.NodeDir(spec),
		log:     h.log.WithField("node", spec.Name),
		limiter: ratelog.New(h.opts.LogEvery, h.opts.Now),
		ctx:     ctx,
		cancel:  cancel,
		busy:    true,
	}
	m.ops.Add(1)
	h.nodes[spec.ID] = m
	return m, nil
}

// unreserve forgets a node whose start failed.
func (h *Host) unreserve(m *managed) {
	h.mu.Lock()
	if h.nodes[m.id] == m {
		delete(h.nodes, m.id)
	}
	h.mu.Unlock()
	m.cancel()
}

// supervise hands a reserved node, now running as p, to the supervisor loop.
func (h *Host) supervise(m *managed, p *engine.Process) provisioner.Node {
	h.mu.Lock()
	defer h.mu.Unlock()
	m.busy = false
	return h.setRunning(m, p)
}

// setRunning records that m runs as p and answered just now, and opens
// larder's held connection to it (or has it re-dialled at once after a
// restart); h.mu must be held.
func (h *Host) setRunning(m *managed, p *engine.Process) provisioner.Node {
	m.proc, m.down, m.lastOK = p, false, h.opts.Now()
	m.cpu, m.lastProgress, m.unresponsive = 0, m.lastOK, false
	if m.conn == nil {
		admin := func() engine.User {
			h.mu.Lock()
			defer h.mu.Unlock()
			return m.spec.Admin
		}
		m.conn = newHeldConn(m.ctx, h.dialAddr(m.spec.Port), admin, h.opts.Now, h.opts.PingTimeout, h.opts.CheckInterval)
	} else {
		m.conn.kick()
	}
	return h.nodeOf(m)
}

// supervised returns the Node of a supervised node that has a process. A
// node given up after a crash loop is an Unavailable error.
func (h *Host) supervised(id string) (provisioner.Node, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.nodes[id]
	if !ok || m.proc == nil {
		return provisioner.Node{}, false, nil
	}
	if m.failed {
		return provisioner.Node{}, false, fault.E(fault.Unavailable,
			"node %s was given up after a crash loop; stop it, then start it again", m.name)
	}
	return h.nodeOf(m), true, nil
}

// nodeOf describes m; h.mu must be held.
func (h *Host) nodeOf(m *managed) provisioner.Node {
	n := provisioner.Node{ID: m.spec.ID, Addr: h.opts.Addr, Port: m.spec.Port, Dir: m.dir}
	if m.proc != nil {
		n.PID = m.proc.PID
	}
	return n
}

// loop is the supervisor: every CheckInterval it checks each node that is
// not already being checked or restarted, each in its own goroutine so that
// one slow node never delays the others; now and then it purges the
// quarantine.
func (h *Host) loop() {
	defer close(h.loopDone)
	t := time.NewTicker(h.opts.CheckInterval)
	defer t.Stop()
	// Quarantined nodes are purged a few times per retention, at most hourly.
	purge := time.NewTicker(max(min(h.opts.QuarantineRetention/4, time.Hour), h.opts.CheckInterval))
	defer purge.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			h.tick()
		case <-purge.C:
			h.purgeQuarantine()
		}
	}
}

func (h *Host) tick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.nodes {
		if m.busy || m.failed || m.proc == nil {
			continue
		}
		m.busy = true
		m.ops.Add(1)
		h.checks.Add(1)
		go func() {
			defer h.checks.Done()
			defer m.ops.Done()
			h.check(m)
			h.mu.Lock()
			m.busy = false
			h.mu.Unlock()
		}()
	}
}

// check looks at one node: restart it if its process is gone (or a previous
// restart failed); otherwise judge whether it is alive. Any answer on
// larder's held connection (a late one, an error, a refusal) or any CPU time
// the process used since the last check is a sign of life: a node paused,
// running a long script, loading its data or full of the app's connections
// is alive. A node with no sign of life for its hang window (HangTimeout,
// or NoPersistenceHangTimeout without persistence) is stuck (SIGSTOPped,
// or blocked in the kernel): it is killed and restarted in place.
func (h *Host) check(m *managed) {
	h.mu.Lock()
	p, down, spec, conn := m.proc, m.down, m.spec, m.conn
	h.mu.Unlock()
	if down {
		h.restart(m)
		return
	}
	if !p.Alive() {
		// An adopted process seen mid-exit may still hold the node's port.
		p.WaitGone(h.opts.StopTimeout)
		reason := p.ExitReason()
		h.markDown(m)
		m.log.WithFields(logrus.Fields{"pid": p.PID, "reason": reason}).Warn("node exited")
		h.events.emit(provisioner.Event{NodeID: m.id, Kind: provisioner.EventExited, PID: p.PID, At: h.opts.Now(),
			Message: "process exited: " + reason})
		h.restart(m)
		return
	}
	conn.ping()
	silent, stopped := h.silence(m, p, conn)
	if m.ctx.Err() != nil {
		return
	}
	limit := h.hangLimit(spec)
	switch {
	case silent < h.opts.HangTimeout:
		if h.setUnresponsive(m, false) {
			m.log.Info("node shows signs of life again; it was not restarted")
			h.events.emit(provisioner.Event{NodeID: m.id, Kind: provisioner.EventResponsive, PID: p.PID, At: h.opts.Now(),
				Message: "it answers again; nothing was restarted and its data is intact"})
		}
		return
	case silent < limit:
		if !h.setUnresponsive(m, true) {
			m.log.WithFields(logrus.Fields{"pid": p.PID, "silent": silent.Round(time.Millisecond)}).
				Warn("node is stuck; no persistence, so it is left alone for the longer window")
			h.events.emit(provisioner.Event{NodeID: m.id, Kind: provisioner.EventUnresponsive, PID: p.PID, At: h.opts.Now(),
				Message: fmt.Sprintf("no answer and no CPU progress for %v%s; its plan has no persistence, so a restart would lose its data: it is restarted only if it stays stuck for %v",
					silent.Round(time.Millisecond), stoppedNote(stopped), limit)})
		}
		return
	}
	m.log.WithFields(logrus.Fields{"pid": p.PID, "silent": silent.Round(time.Millisecond)}).Warn("node stuck; killing it")
	if err := p.Kill(); err != nil {
		m.limiter.Log(m.log.WithError(err), "kill", logrus.ErrorLevel, "cannot kill stuck node")
		return
	}
	h.markDown(m)
	msg := fmt.Sprintf("no answer and no CPU progress for %v%s; killed", silent.Round(time.Millisecond), stoppedNote(stopped))
	if !spec.Persistence {
		msg += "; its plan has no persistence, so its data was lost"
	}
	h.events.emit(provisioner.Event{NodeID: m.id, Kind: provisioner.EventHung, PID: p.PID, At: h.opts.Now(), Message: msg})
	h.restart(m)
}

// silence is how long m has shown no sign of life: no answer on its held
// connection and no CPU time used. stopped says the process is stopped by a
// signal (SIGSTOP), for messages.
func (h *Host) silence(m *managed, p *engine.Process, conn *heldConn) (silent time.Duration, stopped bool) {
	now := h.opts.Now()
	cpu, ok := p.CPUTime()
	answered := conn.lastAnswer()
	h.mu.Lock()
	defer h.mu.Unlock()
	if answered.After(m.lastOK) {
		m.lastOK = answered
	}
	if ok && cpu != m.cpu {
		m.cpu, m.lastProgress = cpu, now
	}
	last := m.lastOK
	if m.lastProgress.After(last) {
		last = m.lastProgress
	}
	return now.Sub(last), p.Stopped()
}

// hangLimit is how long a node may show no sign of life before it is
// killed: HangTimeout, or NoPersistenceHangTimeout (never shorter) for a node
// whose restart would lose its data.
func (h *Host) hangLimit(spec provisioner.NodeSpec) time.Duration {
	if spec.Persistence {
		return h.opts.HangTimeout
	}
	return max(h.opts.HangTimeout, h.opts.NoPersistenceHangTimeout)
}

// setUnresponsive records whether m is stuck past HangTimeout and returns
// what it was.
func (h *Host) setUnresponsive(m *managed, v bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	was := m.unresponsive
	m.unresponsive = v
	return was
}

func stoppedNote(stopped bool) string {
	if stopped {
		return " (the process is stopped by a signal)"
	}
	return ""
}

func (h *Host) markDown(m *managed) {
	h.mu.Lock()
	m.down = true
	h.mu.Unlock()
}

// restart starts a down node in place, after a backoff that grows with the
// restarts already made within CrashLoopWindow. Past CrashLoopRestarts it gives
// up and reports EventFailed. A failed attempt leaves the node down for the
// next tick to retry.
func (h *Host) restart(m *managed) {
	h.mu.Lock()
	now := h.opts.Now()
	recent := m.restarts[:0]
	for _, t := range m.restarts {
		if now.Sub(t) < h.opts.CrashLoopWindow {
			recent = append(recent, t)
		}
	}
	m.restarts = recent
	n := len(recent)
	var lastPID int
	if m.proc != nil {
		lastPID = m.proc.PID
	}
	if n >= h.opts.CrashLoopRestarts {
		m.failed = true
		h.mu.Unlock()
		msg := fmt.Sprintf("crash loop: %d restarts within %v; no more restarts", n, h.opts.CrashLoopWindow)
		m.log.WithField("restarts", n).Error("node is crash looping; giving up")
		h.events.emit(provisioner.Event{NodeID: m.id, Kind: provisioner.EventFailed, PID: lastPID, At: now, Message: msg})
		return
	}
	m.restarts = append(m.restarts, now)
	h.mu.Unlock()

	if d := h.backoff(n); d > 0 {
		if backoff.Wait(m.ctx, d) != nil {
			return
		}
	}
	h.mu.Lock()
	spec := m.spec
	h.mu.Unlock()
	spec, rejoin := h.restartSpec(m, spec)
	p, err := h.spawn(m.ctx, m, spec)
	if err != nil {
		if m.ctx.Err() == nil {
			m.limiter.Log(m.log.WithError(err), "restart", logrus.ErrorLevel, "cannot restart node")
		}
		return
	}
	h.mu.Lock()
	h.setRunning(m, p)
	h.mu.Unlock()
	m.log.WithField("pid", p.PID).Info("node restarted in place")
	h.events.emit(provisioner.Event{NodeID: m.id, Kind: provisioner.EventRestarted, PID: p.PID, At: h.opts.Now(),
		Message: fmt.Sprintf("restarted in place as pid %d", p.PID) + dataNote(spec)})
	if rejoin {
		h.emitRejoined(m.id, p.PID, spec)
	}
}

// backoff is the wait before a restart when n restarts were already made in
// the window: none for the first (a crash is answered at once), then
// BackoffMin doubling up to BackoffMax.
func (h *Host) backoff(n int) time.Duration {
	if n == 0 {
		return 0
	}
	return backoff.Policy{Min: h.opts.BackoffMin, Max: h.opts.BackoffMax}.Delay(n)
}

// dispatcher delivers events to OnEvent from one goroutine, in order, so a
// handler may call back into the host (even Stop the node) without deadlock.
type dispatcher struct {
	fn   func(provisioner.Event)
	mu   sync.Mutex
	q    []provisioner.Event
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newDispatcher(fn func(provisioner.Event)) *dispatcher {
	d := &dispatcher{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *dispatcher) emit(ev provisioner.Event) {
	if d.fn == nil {
		return
	}
	d.mu.Lock()
	d.q = append(d.q, ev)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		d.drain()
		select {
		case <-d.wake:
		case <-d.stop:
			d.drain()
			return
		}
	}
}

func (d *dispatcher) drain() {
	for {
		d.mu.Lock()
		q := d.q
		d.q = nil
		d.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, ev := range q {
			d.fn(ev)
		}
	}
}

// close delivers what is queued and stops the dispatcher.
func (d *dispatcher) close() {
	close(d.stop)
	<-d.done
}

// restartSpec is the spec a node restarts with. A pair's primary whose data
// is gone (no AOF manifest: its directory was wiped) must not come back as an
// empty primary while its standby holds the data: it restarts as a replica of
// the standby instead, and the supervisor keeps that spec.
func (h *Host) restartSpec(m *managed, spec provisioner.NodeSpec) (provisioner.NodeSpec, bool) {
	if spec.FallbackReplicaOf == nil || spec.ReplicaOf != nil || engine.HasAOF(m.dir) {
		return spec, false
	}
	spec.ReplicaOf, spec.FallbackReplicaOf = spec.FallbackReplicaOf, nil
	h.mu.Lock()
	m.spec = spec
	h.mu.Unlock()
	m.log.WithField("primary", spec.ReplicaOf.String()).Warn("primary's data is gone; the standby takes over and the node rejoins as its replica")
	// The standby takes over first, so that it never tries to sync from this
	// empty node. If it cannot be reached, the node still comes back only as a
	// replica: read-only and empty beats primary and empty.
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	if err := engine.Promote(ctx, engine.Target{Endpoint: *spec.ReplicaOf, Admin: spec.Admin, Name: "standby of " + spec.Name}); err != nil {
		m.log.WithError(err).Error("could not promote the standby; the node waits as its replica")
	}
	return spec, true
}

func (h *Host) emitRejoined(id string, pid int, spec provisioner.NodeSpec) {
	h.events.emit(provisioner.Event{NodeID: id, Kind: provisioner.EventRejoinedAsReplica, PID: pid, At: h.opts.Now(),
		Message: "its data was gone, so it came back as a replica of " + spec.ReplicaOf.String() + " instead of an empty primary"})
}
