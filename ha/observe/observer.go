// Package observe is larder's HA observer: run in one network location, it probes
// every node the broker names and reports what it sees; the broker decides
// (package ha) with the reports of several locations.
package observe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/engine"
	"larder/internal/ratelog"
	"larder/provisioner/agent"
)

// Options configure an Observer. Zero durations take the defaults.
type Options struct {
	Location string // the network location it stands for
	Name     string // this observer, e.g. host name + pid
	Client   *api.Client
	Log      logrus.FieldLogger

	Interval      time.Duration    // probe round; default 1s
	Timeout       time.Duration    // one probe, all of it; default Interval/2
	ReportTimeout time.Duration    // fetching targets, and sending a report, each; default Interval, at least 1s
	StallJump     time.Duration    // a tick this much late means the loop stalled; default 2s
	StallHold     time.Duration    // votes withheld this long after a stall; default 30s
	Now           func() time.Time // default time.Now
}

// Observer probes every node the broker names, from one location, and
// reports what it sees. A probe is a TCP connection and a PING: any reply,
// even NOAUTH, proves the node is up and answering.
//
// Every target is probed on its own, under its own deadline: a slow or dead
// target never delays the probes of the others, nor the report, which goes
// every round with what the probes finished since the last one. A probe still
// running is not reported (no stale "up" stands in for it); one that runs out
// of time is reported as what it is, a node that gave no answer in time.
type Observer struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	targets map[string]*target // by node id, as the broker last listed them

	stalledUntil time.Time
	errLog       *ratelog.Limiter // one failure line per 30 s
}

// target is one node the observer probes, and its probe's latest result.
type target struct {
	tg         api.MonitorTarget
	probing    bool                 // a probe runs
	result     *api.NodeObservation // finished since the last report
	start, end time.Time            // the result's probe: its last request, its end
}

// New returns an observer; Start runs it.
func New(o Options) *Observer {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = o.Interval / 2
	}
	if o.ReportTimeout <= 0 {
		o.ReportTimeout = max(o.Interval, time.Second)
	}
	if o.StallJump <= 0 {
		o.StallJump = 2 * time.Second
	}
	if o.StallHold <= 0 {
		o.StallHold = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	o.Log = o.Log.WithFields(logrus.Fields{"component": "observer", "location": o.Location})
	ctx, cancel := context.WithCancel(context.Background())
	return &Observer{o: o, ctx: ctx, cancel: cancel, targets: map[string]*target{},
		errLog: ratelog.New(30*time.Second, o.Now)}
}

// Start runs the probe loop until Close.
func (ob *Observer) Start() {
	ob.wg.Add(1)
	go func() {
		defer ob.wg.Done()
		t := time.NewTicker(ob.o.Interval)
		defer t.Stop()
		last := ob.o.Now()
		for {
			select {
			case <-ob.ctx.Done():
				return
			case <-t.C:
			}
			now := ob.o.Now()
			if now.Sub(last) >= ob.o.Interval+ob.o.StallJump {
				ob.stalledUntil = now.Add(ob.o.StallHold)
				ob.o.Log.WithField("late", now.Sub(last)-ob.o.Interval).Warn("probe loop stalled; withholding votes for a while")
			}
			ob.round(now)
			// A slow broker makes a round long; that is not the loop stalling.
			last = ob.o.Now()
		}
	}()
}

// Close stops the loop and waits for it and its probes.
func (ob *Observer) Close() {
	ob.cancel()
	ob.wg.Wait()
}

// round starts a probe of every target that has none running, refreshes
// the targets meanwhile (new ones are probed from the next round on), waits
// for the probes a while, and reports what finished. Probes start on the
// tick, so their requests are evenly spaced. The wait is a probe's deadline
// and a little (a probe that times out makes this report), but at most most
// of a round: a slower probe's result goes out with a later report.
// Fetching targets and reporting each have their own deadline.
func (ob *Observer) round(now time.Time) {
	finished := ob.startProbes()
	ctx, cancel := context.WithTimeout(ob.ctx, ob.o.ReportTimeout)
	targets, err := ob.o.Client.MonitorTargets(ctx)
	cancel()
	if err != nil {
		ob.logErr(err, "fetch targets (probing the ones known)")
	} else {
		ob.setTargets(targets)
	}
	wait := time.NewTimer(time.Until(now.Add(min(ob.o.Timeout+probeSlack, ob.o.Interval*3/4))))
	select {
	case <-finished:
	case <-wait.C:
	case <-ob.ctx.Done():
	}
	wait.Stop()
	r := api.MonitorReport{Location: ob.o.Location, Observer: ob.o.Name, Stalled: now.Before(ob.stalledUntil), Nodes: ob.results()}
	ctx, cancel = context.WithTimeout(ob.ctx, ob.o.ReportTimeout)
	defer cancel()
	if err := ob.o.Client.ReportObservations(ctx, r); err != nil {
		ob.logErr(err, "report")
	}
}

// probeSlack is how long past a probe's deadline the round waits for it.
const probeSlack = 20 * time.Millisecond

// setTargets makes the broker's list the one probed: new nodes are added,
// removed ones forgotten (with any result not yet reported).
func (ob *Observer) setTargets(list []api.MonitorTarget) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	keep := map[string]bool{}
	for _, tg := range list {
		keep[tg.NodeID] = true
		if t, ok := ob.targets[tg.NodeID]; ok {
			t.tg = tg
		} else {
			ob.targets[tg.NodeID] = &target{tg: tg}
		}
	}
	for id := range ob.targets {
		if !keep[id] {
			delete(ob.targets, id)
		}
	}
}

// startProbes starts a probe of every target that has none running; the
// channel closes when they all finished.
func (ob *Observer) startProbes() <-chan struct{} {
	ob.mu.Lock()
	var started sync.WaitGroup
	for _, t := range ob.targets {
		if t.probing {
			continue // still on the last one: one slow target, not our problem
		}
		t.probing = true
		started.Add(1)
		ob.wg.Add(1)
		go func(t *target, tg api.MonitorTarget) {
			defer ob.wg.Done()
			defer started.Done()
			o, asked := probe(ob.ctx, tg, ob.o.Timeout)
			ob.mu.Lock()
			t.probing, t.result, t.start, t.end = false, &o, asked, time.Now()
			ob.mu.Unlock()
		}(t, t.tg)
	}
	ob.mu.Unlock()
	done := make(chan struct{})
	go func() { started.Wait(); close(done) }()
	return done
}

// results takes the results finished since the last report.
func (ob *Observer) results() []api.NodeObservation {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	out := []api.NodeObservation{}
	now := time.Now()
	for _, t := range ob.targets {
		if t.result != nil {
			o := *t.result
			o.StartedAgoMS, o.EndedAgoMS = now.Sub(t.start).Milliseconds(), now.Sub(t.end).Milliseconds()
			out = append(out, o)
			t.result = nil
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

func (ob *Observer) logErr(err error, what string) {
	ob.errLog.Log(ob.o.Log.WithError(err), "", logrus.WarnLevel, what)
}

// Probe checks one node, all within timeout: a TCP connection and PING (any
// RESP reply, even NOAUTH, proves the node is up and answering); then, as the
// read-only monitor user, its ROLE and replication offset; and, at the same
// time, its host agent's health endpoint. Only the PING decides up or down;
// the rest is reported as far as it got in time.
func Probe(ctx context.Context, tg api.MonitorTarget, timeout time.Duration) api.NodeObservation {
	o, _ := probe(ctx, tg, timeout)
	return o
}

// probe is Probe, and says when it sent the request that decided: the
// connection attempt, or the PING. A node that did not answer was not
// answering then (a request sent before an outage may have been answered).
func probe(ctx context.Context, tg api.MonitorTarget, timeout time.Duration) (o api.NodeObservation, asked time.Time) {
	o.NodeID = tg.NodeID
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var agentUp *bool
	var wg sync.WaitGroup
	if tg.AgentURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			up := probeAgent(ctx, tg.AgentURL)
			agentUp = &up
		}()
	}
	defer func() {
		wg.Wait()
		o.AgentUp = agentUp
	}()
	start := time.Now()
	asked = start
	deadline, _ := ctx.Deadline()
	noAnswer := func(what string, err error) string {
		if time.Now().After(deadline) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Sprintf("%s: no answer in %d ms", what, timeout.Milliseconds())
		}
		return fmt.Sprintf("%s: %v", what, err)
	}
	addr := net.JoinHostPort(tg.Addr, strconv.Itoa(tg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		o.Error = noAnswer("connect", err)
		return o, asked
	}
	conn.SetDeadline(deadline)
	asked = time.Now()
	_, err = conn.Write([]byte("PING\r\n"))
	var line string
	if err == nil {
		line, err = bufio.NewReader(conn).ReadString('\n')
	}
	conn.Close()
	if err != nil || len(line) == 0 || (line[0] != '+' && line[0] != '-') {
		o.Error = noAnswer("ping", err)
		return o, asked
	}
	o.Up, o.LatencyMS = true, time.Since(start).Milliseconds()
	if tg.MonitorUser != "" {
		o.Role, o.Offset = probeRole(ctx, addr, tg.MonitorUser, tg.MonitorPassword, time.Until(deadline))
	}
	return o, asked
}

// probeRole reads ROLE and the replication offset; best effort.
func probeRole(ctx context.Context, addr, user, password string, timeout time.Duration) (string, int64) {
	c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password, DialTimeout: timeout,
		ReadTimeout: timeout, WriteTimeout: timeout, ContextTimeoutEnabled: true, PoolSize: 1, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	role := ""
	if r, err := c.Do(ctx, "ROLE").Slice(); err == nil && len(r) > 0 {
		role, _ = r[0].(string)
	}
	var offset int64
	if text, err := c.Info(ctx, "replication").Result(); err == nil && (role == "master" || role == "slave") {
		offset = engine.ParseInfo(text).Repl.Offset
	}
	return role, offset
}

var agentHTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// probeAgent reports whether a host agent's health endpoint answers before
// ctx's deadline.
func probeAgent(ctx context.Context, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+agent.HealthPath, nil)
	if err != nil {
		return false
	}
	resp, err := agentHTTP.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
