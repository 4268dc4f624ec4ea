package ha

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"larder/api"
	"larder/provisioner"
)

// ObserverOptions configure an Observer. Zero durations take the defaults.
type ObserverOptions struct {
	Location string // the network location it stands for
	Name     string // this observer, e.g. host name + pid
	Client   *api.Client
	Log      logrus.FieldLogger

	Interval  time.Duration    // probe round; default 1s
	Timeout   time.Duration    // one probe; default Interval/2
	StallJump time.Duration    // a tick this much late means the loop stalled; default 2s
	StallHold time.Duration    // votes withheld this long after a stall; default 30s
	Now       func() time.Time // default time.Now
}

// Observer probes every node the broker names, from one location, and
// reports what it sees. A probe is a TCP connection and a PING: any reply,
// even NOAUTH, proves the node is up and answering.
type Observer struct {
	o      ObserverOptions
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stalledUntil time.Time
	lastErrLog   time.Time
}

// NewObserver returns an observer; Start runs it.
func NewObserver(o ObserverOptions) *Observer {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = o.Interval / 2
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
	return &Observer{o: o, ctx: ctx, cancel: cancel}
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
			last = now
			ob.round(now)
		}
	}()
}

// Close stops the loop and waits for it.
func (ob *Observer) Close() {
	ob.cancel()
	ob.wg.Wait()
}

func (ob *Observer) round(now time.Time) {
	ctx, cancel := context.WithTimeout(ob.ctx, ob.o.Interval)
	defer cancel()
	targets, err := ob.o.Client.MonitorTargets(ctx)
	if err != nil {
		ob.logErr(err, "fetch targets")
		return
	}
	obs := make([]api.NodeObservation, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func(i int, tg api.MonitorTarget) {
			defer wg.Done()
			obs[i] = Probe(ctx, tg, ob.o.Timeout)
		}(i, tg)
	}
	wg.Wait()
	r := api.MonitorReport{Location: ob.o.Location, Observer: ob.o.Name, Stalled: now.Before(ob.stalledUntil), Nodes: obs}
	if err := ob.o.Client.ReportObservations(ctx, r); err != nil {
		ob.logErr(err, "report")
	}
}

func (ob *Observer) logErr(err error, what string) {
	if now := ob.o.Now(); now.Sub(ob.lastErrLog) >= 30*time.Second {
		ob.lastErrLog = now
		ob.o.Log.WithError(err).Warn(what)
	}
}

// Probe checks one node: a TCP connection and PING (any RESP reply, even
// NOAUTH, proves the node is up and answering); then, as the read-only
// monitor user, its ROLE and replication offset; then its host agent's
// health endpoint. Only the PING decides up or down; the rest is reported.
func Probe(ctx context.Context, tg api.MonitorTarget, timeout time.Duration) (o api.NodeObservation) {
	o.NodeID = tg.NodeID
	var agentUp *bool
	var wg sync.WaitGroup
	if tg.AgentURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			up := probeAgent(ctx, tg.AgentURL, timeout)
			agentUp = &up
		}()
	}
	defer func() {
		wg.Wait()
		o.AgentUp = agentUp
	}()
	start := time.Now()
	addr := net.JoinHostPort(tg.Addr, strconv.Itoa(tg.Port))
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		o.Error = "connect: " + err.Error()
		return o
	}
	conn.SetDeadline(time.Now().Add(timeout))
	_, err = conn.Write([]byte("PING\r\n"))
	var line string
	if err == nil {
		line, err = bufio.NewReader(conn).ReadString('\n')
	}
	conn.Close()
	if err != nil || len(line) == 0 || (line[0] != '+' && line[0] != '-') {
		o.Error = fmt.Sprintf("no reply: %v", err)
		return o
	}
	o.Up, o.LatencyMS = true, time.Since(start).Milliseconds()
	if tg.MonitorUser != "" {
		o.Role, o.Offset = probeRole(ctx, addr, tg.MonitorUser, tg.MonitorPassword, timeout)
	}
	return o
}

// probeRole reads ROLE and the replication offset; best effort.
func probeRole(ctx context.Context, addr, user, password string, timeout time.Duration) (string, int64) {
	c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password, DialTimeout: timeout,
		ReadTimeout: timeout, WriteTimeout: timeout, PoolSize: 1, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	role := ""
	if r, err := c.Do(ctx, "ROLE").Slice(); err == nil && len(r) > 0 {
		role, _ = r[0].(string)
	}
	var offset int64
	if text, err := c.Info(ctx, "replication").Result(); err == nil {
		for _, line := range strings.Split(text, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if (role == "master" && k == "master_repl_offset") || (role == "slave" && k == "slave_repl_offset") {
				offset, _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return role, offset
}

var agentHTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// probeAgent reports whether a host agent's health endpoint answers.
func probeAgent(ctx context.Context, base string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+provisioner.HealthPath, nil)
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
