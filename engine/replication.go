package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/fault"
	"larder/internal/backoff"
)

// Target is a node reached as larder's admin user, wherever its host is.
// Replication commands go straight to the nodes, not through their hosts.
type Target struct {
	Endpoint
	Admin User
	Name  string // for messages
}

func (t Target) client() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: t.Endpoint.String(), Username: t.Admin.Name, Password: t.Admin.Password,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		PoolSize: 1, MaxRetries: -1, DisableIdentity: true,
	})
}

// fault describes a failed admin call to t (op says what it was) as an
// Unavailable fault. go-redis reports a node's refusal of a new connection
// (the app holds every one its plan allows) as the node hanging up, so when
// the node hung up one raw dial tells a full node, which the message then
// names, from one that does not answer. A node that is silent or refuses
// connections costs no second try.
func (t Target) fault(err error, op string) error {
	if !errors.Is(err, ErrNodeFull) && (errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, derr := DialAdmin(ctx, t.Endpoint.String(), t.Admin)
		switch {
		case derr == nil:
			c.Close()
		case errors.Is(derr, ErrNodeFull):
			err = fmt.Errorf("%w (%v)", derr, err)
		}
	}
	return NodeFault(err, t.Name, op)
}

// Replication reads a node's replication state.
func Replication(ctx context.Context, t Target) (ReplInfo, error) {
	c := t.client()
	defer c.Close()
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return ReplInfo{}, t.fault(err, "read the replication state")
	}
	return ParseInfo(text).Repl, nil
}

// InSync reports whether r is a replica of primary with its link up and no
// sync running.
func (r ReplInfo) InSync(primary Endpoint) bool {
	return r.Role == "slave" && r.LinkUp && !r.SyncInProgress &&
		r.MasterHost == primary.Addr && r.MasterPort == primary.Port
}

// WaitInSync polls standby until it is an in-sync replica of primary or ctx
// ends. The poll starts fast: an empty pair syncs in milliseconds.
func WaitInSync(ctx context.Context, standby Target, primary Endpoint) error {
	return WaitCaughtUp(ctx, standby, primary, 0)
}

// WaitCaughtUp polls standby until it is an in-sync replica of primary
// that has applied the stream up to offset (the primary's at some moment:
// every write acknowledged before it), or ctx ends.
func WaitCaughtUp(ctx context.Context, standby Target, primary Endpoint, offset int64) error {
	delay := backoff.New(2*time.Millisecond, 128*time.Millisecond)
	var last ReplInfo
	var lastErr error
	for {
		last, lastErr = Replication(ctx, standby)
		if lastErr == nil && last.InSync(primary) && last.Offset >= offset {
			return nil
		}
		if backoff.Wait(ctx, delay.Next()) != nil {
			if lastErr != nil {
				return fault.Wrap(fault.Unavailable, lastErr, fmt.Sprintf("standby %s did not sync with %s", standby.Name, primary))
			}
			return fault.E(fault.Unavailable, "standby %s did not sync with %s (role %s, link up %v, syncing %v, offset %d of %d)",
				standby.Name, primary, last.Role, last.LinkUp, last.SyncInProgress, last.Offset, offset)
		}
	}
}

// Promote makes a replica a primary (REPLICAOF NO ONE). Callers fence the old
// primary first.
func Promote(ctx context.Context, t Target) error {
	c := t.client()
	defer c.Close()
	if err := c.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		return t.fault(err, "promote")
	}
	return nil
}

// Follow makes t a replica of primary, authenticating as repl. The three
// commands go in one round trip: a demotion sits in a switchover's pause.
func Follow(ctx context.Context, t Target, primary Endpoint, repl User) error {
	c := t.client()
	defer c.Close()
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ConfigSet(ctx, "masteruser", repl.Name)
		p.ConfigSet(ctx, "masterauth", repl.Password)
		p.Do(ctx, "REPLICAOF", primary.Addr, strconv.Itoa(primary.Port))
		return nil
	})
	if err != nil {
		return t.fault(err, "follow "+primary.String())
	}
	return nil
}

// Switchover swaps a pair's roles with no acknowledged write lost, the way
// the engine's FAILOVER does it: pause writes on the primary, wait until the
// replica has applied every byte of the stream, let swap record and apply the
// new roles (through the hosts, under a new epoch), resume. FAILOVER waits
// for the replica to *acknowledge* the offset, which it does from a
// once-a-second timer (and the primary sends no GETACK while writes are
// paused), so its pause is 0–1000 ms depending on timer phase; reading the
// replica's applied offset directly gives the same guarantee in milliseconds.
// It returns how long writes were paused. If the replica does not catch up
// within timeout, nothing changes.
//
// swap reports whether it changed any role. When it fails having changed
// none, the pause is lifted, except when it lost the roles to another
// coordinator (a Conflict): that pause is no longer this switchover's to
// lift. When it fails half way, the old primary stays paused. Either way the
// pause ends by itself after timeout + 10 s, so a coordinator that dies
// mid-switchover never leaves a node paused for longer.
func Switchover(ctx context.Context, primary, to Target, timeout time.Duration, swap func(context.Context) (changed bool, err error)) (time.Duration, error) {
	octx, cancel := context.WithTimeout(ctx, timeout)
	err := WaitOnline(octx, primary, to.Endpoint)
	cancel()
	if err != nil {
		return 0, err
	}
	pc := primary.client()
	defer pc.Close()
	// The pause outlives a crash of larder's own connection by at most this
	// long; demotion follows within milliseconds in the normal case.
	guard := timeout + 10*time.Second
	began := time.Now()
	if err := pc.Do(ctx, "CLIENT", "PAUSE", strconv.FormatInt(guard.Milliseconds(), 10), "WRITE").Err(); err != nil {
		return 0, primary.fault(err, "pause writes")
	}
	unpause := func() { pc.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE") }
	// Writes (and expiry and eviction) are paused: the primary's offset is final.
	pr, err := Replication(ctx, primary)
	if err != nil {
		unpause()
		return 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := backoff.New(time.Millisecond, 16*time.Millisecond)
	for {
		tr, err := Replication(cctx, to)
		if err == nil && tr.Role == "slave" && tr.Offset >= pr.Offset {
			break
		}
		if backoff.Wait(cctx, delay.Next()) != nil {
			unpause()
			return 0, fault.E(fault.Conflict, "switchover from %s to %s abandoned: the standby did not catch up within %v; nothing changed", primary.Name, to.Name, timeout)
		}
	}
	changed, err := swap(ctx)
	if err != nil {
		if !changed && fault.KindOf(err) != fault.Conflict {
			unpause()
		}
		if changed {
			return time.Since(began), fmt.Errorf("%w (the writes of %s stay paused for at most %v)", err, primary.Name, guard)
		}
		return 0, err
	}
	// The old primary follows the new one now: resuming it lets its clients
	// see READONLY and move to the new primary.
	unpause()
	return time.Since(began), nil
}

// Unpause lifts a pause of client writes on t (CLIENT UNPAUSE), e.g. one a
// switchover left when the broker running it stopped.
func Unpause(ctx context.Context, t Target) error {
	c := t.client()
	defer c.Close()
	if err := c.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		return fault.Wrap(fault.Unavailable, err, "lift the pause of "+t.Name)
	}
	return nil
}

// DisconnectClients closes every normal client connection of a node, e.g. of
// a demoted primary once the new one is recorded, so apps reconnect and read
// the new URL.
func DisconnectClients(ctx context.Context, t Target) error {
	c := t.client()
	defer c.Close()
	if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
		return t.fault(err, "close the clients")
	}
	return nil
}

// WaitOnline waits until primary reports the replica at e online (ctx bounds it).
func WaitOnline(ctx context.Context, primary Target, e Endpoint) error {
	delay := backoff.New(2*time.Millisecond, 64*time.Millisecond)
	for {
		r, err := Replication(ctx, primary)
		if err == nil {
			for _, ri := range r.Replicas {
				if ri.Endpoint == e && ri.State == "online" {
					return nil
				}
			}
		}
		if backoff.Wait(ctx, delay.Next()) != nil {
			return fault.E(fault.Conflict, "%s does not see its replica %s online", primary.Name, e)
		}
	}
}
