package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/fault"
	"larder/internal/atomicfile"
	"larder/provisioner"
)

// Options configure a Host. Zero durations take the defaults noted.
type Options struct {
	Name   string        // the host's name in the store; default "local"
	Root   string        // nodes live in Root/<spec.Name>
	Addr   string        // the address nodes bind to and clients dial; default 127.0.0.1
	Engine engine.Engine // default: Discover()

	Log     logrus.FieldLogger      // default: logrus.StandardLogger()
	OnEvent func(provisioner.Event) // called from one goroutine, in order, with no lock held
	Now     func() time.Time        // default time.Now

	CheckInterval            time.Duration // supervisor tick; default 500ms
	PingTimeout              time.Duration // one supervision PING; default min(1s, HangTimeout/2)
	HangTimeout              time.Duration // no PING answer for this long → SIGKILL and restart; default 5s
	NoPersistenceHangTimeout time.Duration
	StartTimeout             time.Duration // a start must answer PING within this; default 10s
	LoadTimeout              time.Duration // …or within this while it answers LOADING (AOF replay); default 5m
	StopTimeout              time.Duration // SIGTERM grace before SIGKILL; default 5s

	BackoffMin time.Duration // delay before the 2nd restart within the window; default 100ms
	BackoffMax time.Duration // cap of the doubling delay; default 5s

	CrashLoopRestarts int           // restarts allowed within CrashLoopWindow; default 5
	CrashLoopWindow   time.Duration // default 60s

	LogEvery time.Duration // minimum gap between repeated error logs of a node; default 30s

	// QuarantineDir is where Quarantine moves the directories of nodes larder
	// stopped needing (orphans); default "quarantine" beside Root (for the
	// broker and agents, DATA-DIR/quarantine).
	QuarantineDir string
	// QuarantineRetention is how long a quarantined node's directory is
	// kept before the host deletes it; default 7 days.
	QuarantineRetention time.Duration
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Name == "" {
		o.Name = "local"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1"
	}
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def(&o.CheckInterval, 500*time.Millisecond)
	def(&o.HangTimeout, 5*time.Second)
	def(&o.NoPersistenceHangTimeout, 60*time.Second)
	def(&o.PingTimeout, min(time.Second, o.HangTimeout/2))
	def(&o.StartTimeout, 10*time.Second)
	def(&o.LoadTimeout, 5*time.Minute)
	def(&o.StopTimeout, 5*time.Second)
	def(&o.BackoffMin, 100*time.Millisecond)
	def(&o.BackoffMax, 5*time.Second)
	def(&o.CrashLoopWindow, 60*time.Second)
	def(&o.LogEvery, 30*time.Second)
	def(&o.QuarantineRetention, 7*24*time.Hour)
	if o.CrashLoopRestarts <= 0 {
		o.CrashLoopRestarts = 5
	}
}

// Host runs nodes as processes on this machine and supervises them from
// one loop. Nodes outlive it: Close stops supervision only.
//
// It has about 50 methods, 16 of them exported (the provisioner.Host
// interface, and NodeDir), and keeps them on purpose: the supervisor
// (reserve, check, restart…), fencing (epochs and write pauses) and the admin
// connection all reach a node through the one node table under h.mu — its
// process, its held connection, whether a start or check owns it — and stop,
// quarantine and reconfigure change that table while the supervisor reads
// it. Split into types, each would hold the same table and lock, and every
// rule about who may touch a node when would span them.
type Host struct {
	opts   Options
	log    logrus.FieldLogger
	events *dispatcher

	ctx      context.Context // supervision; cancelled by Close
	cancel   context.CancelFunc
	loopDone chan struct{}
	checks   sync.WaitGroup // in-flight node checks and restarts

	mu     sync.Mutex
	nodes  map[string]*managed // by node id
	closed bool

	fencing nodeLocks // a node's epoch and pause, by node name (see fence.go)
}

var _ provisioner.Host = (*Host)(nil)

// New prepares Root and starts the supervisor loop.
func New(opts Options) (*Host, error) {
	opts.setDefaults()
	if opts.Root == "" {
		return nil, fault.E(fault.Invalid, "local host: no root directory")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("local host root: %w", err)
	}
	opts.Root = root
	if err := atomicfile.PrivateDir(root); err != nil {
		return nil, fmt.Errorf("local host root: %w", err)
	}
	if opts.QuarantineDir == "" {
		opts.QuarantineDir = filepath.Join(filepath.Dir(root), "quarantine")
	}
	if opts.Engine.Path == "" {
		if opts.Engine, err = engine.Discover(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Host{
		opts:     opts,
		log:      opts.Log.WithField("host", opts.Name),
		events:   newDispatcher(opts.OnEvent),
		ctx:      ctx,
		cancel:   cancel,
		loopDone: make(chan struct{}),
		nodes:    map[string]*managed{},
	}
	if err := h.prepareQuarantine(); err != nil {
		return nil, err
	}
	h.purgeQuarantine()
	go h.loop()
	return h, nil
}

// Name identifies the host in the store.
func (h *Host) Name() string { return h.opts.Name }

// Addr is the address nodes bind to and clients dial.
func (h *Host) Addr() string { return h.opts.Addr }

// Engine is the engine this host runs.
func (h *Host) Engine() engine.Engine { return h.opts.Engine }

// NodeDir is the directory of the node spec describes.
func (h *Host) NodeDir(spec provisioner.NodeSpec) string {
	return filepath.Join(h.opts.Root, spec.Name)
}

// PortFree reports whether port can be bound on the host's address now.
func (h *Host) PortFree(ctx context.Context, port int) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l, err := net.Listen("tcp", h.dialAddr(port))
	if err != nil {
		return false, nil
	}
	l.Close()
	return true, nil
}

func (h *Host) dialAddr(port int) string {
	return net.JoinHostPort(h.opts.Addr, strconv.Itoa(port))
}

// Start writes the node's files and starts it, returning once it answers PING
// as admin. On failure nothing of it keeps running.
func (h *Host) Start(ctx context.Context, spec provisioner.NodeSpec) (provisioner.Node, error) {
	spec = engine.Normalize(spec)
	if err := engine.Validate(spec); err != nil {
		return provisioner.Node{}, err
	}
	m, err := h.reserve(spec)
	if err != nil {
		return provisioner.Node{}, fmt.Errorf("start node %s: %w", spec.Name, err)
	}
	defer m.ops.Done()
	ctx, cancel := withStop(ctx, m.ctx)
	defer cancel()
	began := time.Now()
	p, err := h.spawn(ctx, m, spec)
	if err != nil {
		h.unreserve(m)
		return provisioner.Node{}, fmt.Errorf("start node %s: %w", spec.Name, err)
	}
	m.log.WithFields(logrus.Fields{"pid": p.PID, "port": spec.Port, "took": time.Since(began).Round(time.Millisecond)}).
		Info("node started")
	h.noteEpoch(spec)
	return h.supervise(m, p), nil
}

// Adopt takes a node started earlier under supervision. A running node that
// answers PING as admin is kept as is; otherwise its config is rewritten from
// spec and it is started in place (an AOF brings its data back). A node whose
// directory is gone (never started, e.g. a provision resumed after a broker
// crash, or deleted by hand) is started empty, with a warning and an event
// saying so. A spec under an older epoch than the node holds is refused; a
// node kept running keeps the epoch it holds (its role is not the spec's
// until SetRole applies it).
func (h *Host) Adopt(ctx context.Context, spec provisioner.NodeSpec) (provisioner.Node, error) {
	spec = engine.Normalize(spec)
	if err := engine.Validate(spec); err != nil {
		return provisioner.Node{}, err
	}
	unlock, err := h.checkEpoch(spec, "adopt")
	if err != nil {
		return provisioner.Node{}, err
	}
	unlock()
	m, err := h.reserve(spec)
	if errors.Is(err, fault.Conflict) {
		n, ok, ferr := h.supervised(spec.ID)
		if ferr != nil {
			return provisioner.Node{}, fmt.Errorf("adopt node %s: %w", spec.Name, ferr)
		}
		if ok {
			return n, nil // already ours
		}
	}
	if err != nil {
		return provisioner.Node{}, fmt.Errorf("adopt node %s: %w", spec.Name, err)
	}
	defer m.ops.Done()
	ctx, cancel := withStop(ctx, m.ctx)
	defer cancel()

	reason := "its process was gone"
	if _, err := os.Stat(m.dir); errors.Is(err, os.ErrNotExist) {
		reason = "its directory was missing, so it starts empty"
		m.log.Warn("node directory missing; starting the node empty")
	} else if p := h.findRunning(m.dir); p != nil {
		err := engine.WaitReady(ctx, p, h.dialAddr(spec.Port), spec.Admin, h.opts.StartTimeout, h.opts.LoadTimeout)
		if err == nil {
			m.log.WithField("pid", p.PID).Info("adopted running node")
			node := h.supervise(m, p)
			// A node started by an older larder gets today's users and
			// limits (e.g. CLIENT PAUSE denied to the app), without a restart.
			if err := h.Reconfigure(ctx, spec); err != nil {
				m.log.WithError(err).Warn("could not apply the node's spec to the adopted node; it keeps its old settings until a restart")
			}
			return node, nil
		}
		if ctx.Err() != nil {
			h.unreserve(m)
			return provisioner.Node{}, fmt.Errorf("adopt node %s: %w", spec.Name, ctx.Err())
		}
		m.log.WithField("pid", p.PID).WithError(err).Warn("running node does not answer as admin; restarting it")
		reason = "its process did not answer as admin"
		if err := p.Stop(h.opts.StopTimeout); err != nil {
			h.unreserve(m)
			return provisioner.Node{}, fmt.Errorf("adopt node %s: %w", spec.Name, err)
		}
	}
	spec, rejoin := h.restartSpec(m, spec)
	p, err := h.spawn(ctx, m, spec)
	if err != nil {
		h.unreserve(m)
		return provisioner.Node{}, fmt.Errorf("adopt node %s: %w", spec.Name, err)
	}
	m.log.WithField("pid", p.PID).Info("restarted node in place on adoption")
	h.noteEpoch(spec)
	node := h.supervise(m, p)
	h.events.emit(provisioner.Event{NodeID: spec.ID, Kind: provisioner.EventRestarted, PID: p.PID, At: h.opts.Now(),
		Message: "restarted in place on adoption: " + reason + dataNote(spec)})
	if rejoin {
		h.emitRejoined(spec.ID, p.PID, spec)
	}
	return node, nil
}

// Stop stops supervising the node and stops its process: SIGTERM, then
// StopTimeout, then SIGKILL. Its directory stays.
func (h *Host) Stop(ctx context.Context, nodeID string) error {
	return h.stop(nodeID, true)
}

// stop ends supervision of a node and its process: gracefully (SIGTERM, so
// the engine flushes its AOF) or, when its data is about to be deleted
// anyway, with SIGKILL at once. The engine handles SIGTERM on its next cron
// tick, up to 100 ms later; SIGKILL is immediate.
func (h *Host) stop(nodeID string, graceful bool) error {
	h.mu.Lock()
	m := h.nodes[nodeID]
	if m != nil {
		delete(h.nodes, nodeID)
		m.cancel()
	}
	h.mu.Unlock()
	if m == nil {
		return fault.E(fault.NotFound, "stop node %s: not running on host %s", nodeID, h.opts.Name)
	}
	m.ops.Wait() // an in-flight start or restart ends quickly once cancelled
	h.mu.Lock()
	p := m.proc
	h.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := h.end(p, graceful); err != nil {
		return fmt.Errorf("stop node %s: %w", m.name, err)
	}
	m.log.WithField("pid", p.PID).Info("node stopped")
	return nil
}

func (h *Host) end(p *engine.Process, graceful bool) error {
	if graceful {
		return p.Stop(h.opts.StopTimeout)
	}
	return p.Kill()
}

// Remove stops the node, whether supervised or only known by its directory
// (after a broker restart, before adoption), and deletes its directory. The
// data goes, so the process is killed without a graceful shutdown. It is
// for what a user asked to delete (addons:destroy); what larder decides by
// itself goes through Quarantine.
func (h *Host) Remove(ctx context.Context, spec provisioner.NodeSpec) error {
	if !engine.SafeName(spec.Name) {
		return fault.E(fault.Invalid, "remove node: bad name %q", engine.Truncate(spec.Name, 80))
	}
	if err := h.halt(spec, false); err != nil {
		return fmt.Errorf("remove node %s: %w", spec.Name, err)
	}
	if err := os.RemoveAll(h.NodeDir(spec)); err != nil {
		return fmt.Errorf("remove node %s: %w", spec.Name, err)
	}
	h.log.WithField("node", spec.Name).Info("node removed")
	return nil
}

// Close stops the supervisor and waits for in-flight restarts; the nodes keep
// running. If ctx ends first, in-flight restarts are abandoned.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	<-h.loopDone
	done := make(chan struct{})
	go func() {
		h.checks.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("close host %s: %w", h.opts.Name, ctx.Err())
		h.mu.Lock()
		for _, m := range h.nodes {
			m.cancel()
		}
		h.mu.Unlock()
		<-done
	}
	// The nodes keep running; the next host to adopt them opens its own
	// connections.
	h.mu.Lock()
	var held []*heldConn
	for _, m := range h.nodes {
		if m.conn != nil {
			held = append(held, m.conn)
		}
	}
	h.mu.Unlock()
	for _, c := range held {
		c.close()
	}
	h.events.close()
	return err
}

// withStop is ctx, also cancelled when stop ends (the node is being stopped).
func withStop(ctx, stop context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(stop, cancel)
	return ctx, func() { unhook(); cancel() }
}
