package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"larder/engine"
	"larder/fault"
	"larder/internal/atomicfile"
	"larder/provisioner"
)

// Fencing state a host keeps for each node, in the node's directory so that
// an agent restart keeps it: the newest epoch a role was applied under, and
// the write pause the host holds on the node.
const (
	epochFile = "node.epoch" // decimal
	pauseFile = "node.pause" // JSON Pause; absent when none is held
)

// fencePause is how long one CLIENT PAUSE of the lease lasts in the engine.
// The lease applies it again on every tick while it is out, so it only ends
// by itself if the agent is gone for that long.
const fencePause = time.Hour

// nodeLocks serialise the fencing state of one node (its epoch and its
// pause): a check of the epoch and the change it allows never interleave
// with another. An entry lives only while someone holds or waits for it.
type nodeLocks struct {
	mu sync.Mutex
	m  map[string]*nodeLock
}

type nodeLock struct {
	sync.Mutex
	users int
}

func (l *nodeLocks) lock(name string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*nodeLock{}
	}
	nl := l.m[name]
	if nl == nil {
		nl = &nodeLock{}
		l.m[name] = nl
	}
	nl.users++
	l.mu.Unlock()
	nl.Lock()
	return func() {
		nl.Unlock()
		l.mu.Lock()
		if nl.users--; nl.users == 0 {
			delete(l.m, name)
		}
		l.mu.Unlock()
	}
}

// heldEpoch reads the epoch the node in dir holds; 0 when it holds none.
func heldEpoch(dir string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, epochFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the node's epoch: %w", err)
	}
	// A file a machine crash left empty or torn holds no epoch (see holdEpoch).
	e, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return e, nil
}

// holdEpoch records the node's epoch: written whole and renamed into place,
// so another process (a restarted agent) reads the old value or the new one.
// It is not synced to disk: it sits in a switchover's write pause, and an
// fsync there costs milliseconds. A machine crash may take it back to an
// older value, but the node itself is then down until the broker adopts it
// again, with its current spec, whose epoch is recorded when it starts.
func holdEpoch(dir string, e int64) error {
	path := filepath.Join(dir, epochFile)
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, []byte(strconv.FormatInt(e, 10)+"\n"), engine.FilePerm)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record the node's epoch: %w", err)
	}
	return nil
}

// readPause reads the pause the host holds on the node in dir; nil if none.
func readPause(dir string) (*provisioner.Pause, error) {
	b, err := os.ReadFile(filepath.Join(dir, pauseFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the node's pause: %w", err)
	}
	var p provisioner.Pause
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("read the node's pause: %w", err)
	}
	return &p, nil
}

// checkEpoch takes the node's lock and refuses spec when it carries an
// older epoch than the node holds. On success the caller holds the lock and
// releases it with the returned func.
func (h *Host) checkEpoch(spec provisioner.NodeSpec, op string) (func(), error) {
	if !engine.SafeName(spec.Name) {
		return nil, fault.E(fault.Invalid, "%s node: bad name %q", op, engine.Truncate(spec.Name, 80))
	}
	unlock := h.fencing.lock(spec.Name)
	held, err := heldEpoch(h.NodeDir(spec))
	if err == nil && spec.Epoch < held {
		err = fault.E(fault.Conflict, "%s node %s under epoch %d refused: it holds epoch %d, a newer decision", op, spec.Name, spec.Epoch, held)
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// noteEpoch records spec's epoch for its node if it is newer than the held
// one (a node started or adopted under it).
func (h *Host) noteEpoch(spec provisioner.NodeSpec) {
	unlock := h.fencing.lock(spec.Name)
	defer unlock()
	dir := h.NodeDir(spec)
	held, err := heldEpoch(dir)
	if err == nil && spec.Epoch > held {
		err = holdEpoch(dir, spec.Epoch)
	}
	if err != nil {
		h.log.WithError(err).WithField("node", spec.Name).Warn("keep the node's epoch")
	}
}

// SetRole makes the node what spec says under spec.Epoch (see Host.SetRole).
// The epoch is recorded while the role is applied (both sit in a
// switchover's write pause) and taken back if the role could not be
// applied, so a failure leaves the node behind the broker's epoch and the
// broker tries again.
func (h *Host) SetRole(ctx context.Context, spec provisioner.NodeSpec) error {
	spec = engine.Normalize(spec)
	if err := engine.Validate(spec); err != nil {
		return err
	}
	unlock, err := h.checkEpoch(spec, "set the role of")
	if err != nil {
		return err
	}
	defer unlock()
	dir := h.NodeDir(spec)
	held, _ := heldEpoch(dir)
	recorded := make(chan error, 1)
	go func() { recorded <- holdEpoch(dir, spec.Epoch) }()
	t := engine.Target{Endpoint: engine.Endpoint{Addr: h.opts.Addr, Port: spec.Port}, Admin: spec.Admin, Name: spec.Name}
	role := "primary"
	switch {
	case spec.ReplicaOf != nil:
		role = "replica of " + spec.ReplicaOf.String()
		err = engine.Follow(ctx, t, *spec.ReplicaOf, spec.Repl)
	case spec.Leader != nil:
		role = "follower of " + spec.Leader.String()
		err = engine.Follow(ctx, t, *spec.Leader, spec.LeaderUser)
	default:
		err = engine.Promote(ctx, t)
	}
	if rerr := <-recorded; err == nil {
		err = rerr
	} else if rerr == nil && held < spec.Epoch {
		if rerr := holdEpoch(dir, held); rerr != nil {
			h.log.WithError(rerr).WithField("node", spec.Name).Error("take back the node's epoch")
		}
	}
	if err != nil {
		return fmt.Errorf("set the role of node %s: %w", spec.Name, err)
	}
	h.mu.Lock()
	if m, ok := h.nodes[spec.ID]; ok {
		m.spec = spec // restarts in place come back in this role
	}
	h.mu.Unlock()
	h.log.WithFields(logrus.Fields{"node": spec.Name, "epoch": spec.Epoch, "role": role}).Info("role set")
	return h.liftPause(ctx, spec, fmt.Sprintf("the broker confirmed it as %s under epoch %d", role, spec.Epoch))
}

// pauseWrites pauses the node's writes (CLIENT PAUSE WRITE) for owner and
// records the pause. A pause already recorded is applied again (a node
// restarted in place has lost it) and keeps its owner, reason and start.
func (h *Host) pauseWrites(ctx context.Context, spec provisioner.NodeSpec, owner, reason string) error {
	unlock := h.fencing.lock(spec.Name)
	defer unlock()
	dir := h.NodeDir(spec)
	held, err := readPause(dir)
	if err != nil {
		return err
	}
	// On the host's held connection: a primary the app fills is fenced too.
	if _, err := h.adminDo(ctx, spec, "CLIENT", "PAUSE", strconv.FormatInt(fencePause.Milliseconds(), 10), "WRITE"); err != nil {
		return fault.Wrap(fault.Unavailable, err, "pause the writes of node "+spec.Name)
	}
	if held != nil {
		return nil
	}
	p := provisioner.Pause{Owner: owner, Reason: reason, Since: h.opts.Now()}
	b, _ := json.Marshal(p)
	if err := atomicfile.Write(filepath.Join(dir, pauseFile), b, engine.FilePerm); err != nil {
		return fmt.Errorf("record the pause of node %s: %w", spec.Name, err)
	}
	h.log.WithFields(logrus.Fields{"node": spec.Name, "owner": owner}).Warn(p.String())
	h.events.emit(provisioner.Event{NodeID: spec.ID, Kind: provisioner.EventPaused, At: p.Since, Message: p.String()})
	return nil
}

// repause applies again, to a node that just (re)started, the pause the host
// holds on it: a fenced primary restarted in place stays fenced.
func (h *Host) repause(ctx context.Context, spec provisioner.NodeSpec) {
	p := h.pausedBy(spec)
	if p == nil {
		return
	}
	if err := h.pauseWrites(ctx, spec, p.Owner, p.Reason); err != nil {
		h.log.WithError(err).WithField("node", spec.Name).Error("could not pause the restarted node again")
	}
}

// liftPause ends the pause the host holds on the node, if any. The caller
// holds the node's lock.
func (h *Host) liftPause(ctx context.Context, spec provisioner.NodeSpec, why string) error {
	dir := h.NodeDir(spec)
	p, err := readPause(dir)
	if p == nil || err != nil {
		return err
	}
	if _, err := h.adminDo(ctx, spec, "CLIENT", "UNPAUSE"); err != nil {
		return fault.Wrap(fault.Unavailable, err, "resume the writes of node "+spec.Name)
	}
	if err := os.Remove(filepath.Join(dir, pauseFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("forget the pause of node %s: %w", spec.Name, err)
	}
	now := h.opts.Now()
	msg := fmt.Sprintf("writes resumed after %v: %s (%s)", now.Sub(p.Since).Round(time.Millisecond), why, p)
	h.log.WithField("node", spec.Name).Info(msg)
	h.events.emit(provisioner.Event{NodeID: spec.ID, Kind: provisioner.EventResumed, At: now, Message: msg})
	return nil
}

// pausedBy returns the pause the host holds on the node; nil if none (or if
// it cannot be read).
func (h *Host) pausedBy(spec provisioner.NodeSpec) *provisioner.Pause {
	p, _ := readPause(h.NodeDir(spec))
	return p
}

// fencingOf reads the fencing state of the node in dir, for Status.
func fencingOf(dir string) (int64, *provisioner.Pause) {
	e, _ := heldEpoch(dir)
	p, _ := readPause(dir)
	return e, p
}
