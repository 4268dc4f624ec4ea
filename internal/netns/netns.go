// Package netns puts test processes in Linux network namespaces, so a test on
// one machine can run larder hosts (agents and their nodes) as if on separate
// machines, and cut one off the network the way a real partition does.
//
// Each namespace gets one veth pair; the root-namespace end joins a bridge
// that carries the peer address, so the root namespace and every namespace
// on the same subnet reach each other without IP forwarding. Cut sets the
// namespace's end down from inside: packets to it then vanish and clients
// time out, as they would in a real partition. Addresses must lie in the
// benchmarking range 198.18.0.0/15, and a blackhole route for that range is
// kept in the root namespace while any namespace exists, so that test
// traffic never leaves through the default route if a bridge goes away.
//
// Tests need root and the `ip` tool (CI runs as root); RequireRoot skips
// otherwise. Test packages that run at the same time must use different
// subnets (each /24 can belong to one test process at a time).
package netns

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Range is the only range namespaces may use.
var Range = netip.MustParsePrefix("198.18.0.0/15")

// safetyMetric is the blackhole route's metric: worse than any real route.
const safetyMetric = 4000

// NS is one network namespace joined to the root namespace.
type NS struct {
	Name   string // the namespace's name for `ip netns`
	IP     string // its address, where its processes listen
	PeerIP string // the root namespace's address on the same link
	Iface  string // its end of the veth pair, inside the namespace

	tb        testing.TB
	rootIface string
	br        *bridge
}

// RequireRoot skips the test unless it runs as root on Linux with `ip`.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipping: network namespaces need root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("skipping: network namespaces need the `ip` tool (iproute2)")
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		tb.Skipf("skipping: `ip netns` does not work here: %v: %s", err, bytes.TrimSpace(out))
	}
}

// New creates namespace name (made unique to this process) with address
// hostIP, linked to the root namespace, which answers at peerIP. Addresses
// are IPs in 198.18.0.0/15, optionally with a prefix length (default /24);
// both must be in one subnet. Namespaces sharing peerIP share a link and
// reach each other. Cleanup kills every process left in the namespace and
// removes it, its link and, with the last namespace, the safety route.
func New(tb testing.TB, name, hostIP, peerIP string) *NS {
	tb.Helper()
	RequireRoot(tb)
	host, err := parseAddr(hostIP)
	if err != nil {
		tb.Fatalf("netns %s: host address: %v", name, err)
	}
	peer, err := parseAddr(peerIP)
	if err != nil {
		tb.Fatalf("netns %s: peer address: %v", name, err)
	}
	if host.Bits() != peer.Bits() || host.Masked() != peer.Masked() || host.Addr() == peer.Addr() {
		tb.Fatalf("netns %s: %s and %s must be two addresses of one subnet", name, host, peer)
	}
	sweepStale()
	holdSafetyRoute(tb)
	tb.Cleanup(func() { releaseSafetyRoute(tb) })
	br := holdBridge(tb, peer)
	tb.Cleanup(func() { releaseBridge(tb, br) })

	mu.Lock()
	seq++
	id := seq
	mu.Unlock()
	n := &NS{
		Name:      fmt.Sprintf("larder-%s-%d", name, os.Getpid()),
		IP:        host.Addr().String(),
		PeerIP:    peer.Addr().String(),
		Iface:     "eth0",
		tb:        tb,
		rootIface: fmt.Sprintf("lv%x-%d", os.Getpid(), id),
		br:        br,
	}
	tb.Cleanup(n.remove)
	ok := false
	defer func() {
		if !ok {
			n.remove()
		}
	}()
	steps := [][]string{
		{"netns", "add", n.Name},
		{"link", "add", n.rootIface, "type", "veth", "peer", "name", n.Iface, "netns", n.Name},
		{"link", "set", n.rootIface, "master", br.name, "up"},
		{"-n", n.Name, "addr", "add", host.String(), "dev", n.Iface},
		{"-n", n.Name, "link", "set", n.Iface, "up"},
		{"-n", n.Name, "link", "set", "lo", "up"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			tb.Fatalf("netns %s: %v", name, err)
		}
	}
	if err := waitUp(link{n.Name, n.Iface}, link{"", n.rootIface}); err != nil {
		tb.Fatalf("netns %s: %v", name, err)
	}
	ok = true
	return n
}

// Exec is a command that runs inside the namespace (not started).
func (n *NS) Exec(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Cut takes the namespace off the network: its end of the link goes down
// from inside, so packets to it vanish and peers time out.
func (n *NS) Cut() {
	n.tb.Helper()
	if err := ip("-n", n.Name, "link", "set", n.Iface, "down"); err != nil {
		n.tb.Fatalf("cut %s: %v", n.Name, err)
	}
}

// Heal puts the namespace back on the network.
func (n *NS) Heal() {
	n.tb.Helper()
	if err := ip("-n", n.Name, "link", "set", n.Iface, "up"); err != nil {
		n.tb.Fatalf("heal %s: %v", n.Name, err)
	}
}

// Kill kills every process in the namespace (stopped ones too) and waits
// until none is left, for at most a few seconds.
func (n *NS) Kill() {
	killAll(n.Name)
}

// remove deletes the namespace and its link; it is safe to call more than
// once. The bridge and the safety route are released by their own cleanups,
// which run after it.
func (n *NS) remove() {
	if n.br == nil {
		return
	}
	killAll(n.Name)
	// Deleting the root end takes the pair down at once; deleting the
	// namespace alone would leave it to the kernel's cleanup, later.
	if linkExists(n.rootIface) {
		logErr(n.tb, ip("link", "del", n.rootIface))
	}
	if nsExists(n.Name) {
		logErr(n.tb, ip("netns", "del", n.Name))
	}
	n.br = nil
}

func parseAddr(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		s += "/24"
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !p.Addr().Is4() || !Range.Contains(p.Addr()) || p.Bits() < Range.Bits() || p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("%s is not an IPv4 /15-/30 address in %s", s, Range)
	}
	return p, nil
}

// Process-wide bookkeeping: bridges and the safety route are shared by the
// namespaces of one test process.
var (
	mu          sync.Mutex
	seq         int
	bridges     = map[netip.Prefix]*bridge{}
	routeUsers  int
	routeMetric int // the metric of our safety route; 0 when we hold none
)

type bridge struct {
	name  string
	users int
}

// holdBridge returns the bridge of peer's subnet, making it (with peer's
// address) for the first namespace of that subnet. A subnet already on
// another interface is refused: it belongs to the machine or to another test
// process.
func holdBridge(tb testing.TB, peer netip.Prefix) *bridge {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if br, ok := bridges[peer.Masked()]; ok {
		br.users++
		return br
	}
	seq++
	br := &bridge{name: fmt.Sprintf("lb%x-%d", os.Getpid(), seq), users: 1}
	if dev, ok := subnetInUse(peer); ok {
		tb.Fatalf("netns: %s is already in use on %s (another test process, or the machine's own network); use another subnet of %s",
			peer.Masked(), dev, Range)
	}
	// The bridge's own link-layer address is set, so it never follows the
	// lowest of its ports: a port joining later (a namespace, a Delay's
	// relay) would move the peer's address under the namespaces' neighbour
	// caches and cut them off from it until those entries expire.
	mac := make([]byte, 6)
	if _, err := rand.Read(mac); err != nil {
		tb.Fatalf("netns bridge: %v", err)
	}
	mac[0] = mac[0]&0xfe | 0x02 // unicast, locally administered
	for _, args := range [][]string{
		{"link", "add", br.name, "type", "bridge"},
		{"link", "set", br.name, "address", net.HardwareAddr(mac).String()},
		{"addr", "add", peer.String(), "dev", br.name},
		{"link", "set", br.name, "up"},
	} {
		if err := ip(args...); err != nil {
			if linkExists(br.name) {
				ip("link", "del", br.name)
			}
			tb.Fatalf("netns bridge: %v", err)
		}
	}
	bridges[peer.Masked()] = br
	return br
}

func releaseBridge(tb testing.TB, br *bridge) {
	mu.Lock()
	defer mu.Unlock()
	if br.users--; br.users > 0 {
		return
	}
	for p, b := range bridges {
		if b == br {
			delete(bridges, p)
		}
	}
	logErr(tb, ip("link", "del", br.name))
}

// subnetInUse reports an interface that has an address overlapping p.
func subnetInUse(p netip.Prefix) (string, bool) {
	out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" {
				continue
			}
			if q, err := netip.ParsePrefix(f[i+1]); err == nil && q.Overlaps(p.Masked()) {
				return strings.TrimSuffix(f[1], ":"), true
			}
		}
	}
	return "", false
}

// holdSafetyRoute adds `blackhole 198.18.0.0/15` to the root namespace for
// the first namespace of this process. Another process may hold one with
// metric 4000 already; ours then takes the next free metric, so each process
// removes only its own.
func holdSafetyRoute(tb testing.TB) {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if routeUsers++; routeUsers > 1 {
		return
	}
	var err error
	for m := safetyMetric; m < safetyMetric+100; m++ {
		if err = ip("route", "add", "blackhole", Range.String(), "metric", strconv.Itoa(m)); err == nil {
			routeMetric = m
			return
		}
	}
	routeUsers--
	tb.Fatalf("netns: cannot add the safety route: %v", err)
}

func releaseSafetyRoute(tb testing.TB) {
	mu.Lock()
	defer mu.Unlock()
	if routeUsers--; routeUsers > 0 || routeMetric == 0 {
		return
	}
	logErr(tb, ip("route", "del", "blackhole", Range.String(), "metric", strconv.Itoa(routeMetric)))
	routeMetric = 0
}

// sweepStale removes namespaces and links that earlier test processes of
// this package left behind when they were killed before their cleanup.
func sweepStale() {
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], "larder-") {
				continue
			}
			i := strings.LastIndexByte(f[0], '-')
			if pid, err := strconv.Atoi(f[0][i+1:]); err == nil && deadPID(pid) {
				killAll(f[0])
				ip("netns", "del", f[0])
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if !strings.HasPrefix(name, "lb") && !strings.HasPrefix(name, "lv") {
				continue
			}
			hexPID, _, ok := strings.Cut(name[2:], "-")
			if pid, err := strconv.ParseInt(hexPID, 16, 32); ok && err == nil && deadPID(int(pid)) {
				ip("link", "del", name)
			}
		}
	}
}

func deadPID(pid int) bool {
	return pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// killAll kills the processes of namespace ns until none is left (bounded).
func killAll(ns string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command("ip", "netns", "pids", ns).Output()
		if err != nil {
			return
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGCONT)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond) // no event says a process is gone: look again shortly
	}
}

func linkExists(name string) bool { return exec.Command("ip", "link", "show", name).Run() == nil }

func nsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

// link names one network interface: in namespace ns, or in the root
// namespace when ns is "".
type link struct{ ns, name string }

// waitUp waits, for at most a few seconds, until every link's operational
// state is UP. A link whose carrier just came on drops what it is given to
// send until the kernel has taken note of the carrier (which it may do up to
// a second later), so a first ARP or SYN sent too soon would cost the
// caller a retransmission's second.
func waitUp(links ...link) error {
	deadline := time.Now().Add(5 * time.Second)
	for _, l := range links {
		args := []string{"-o", "link", "show", "dev", l.name}
		if l.ns != "" {
			args = append([]string{"-n", l.ns}, args...)
		}
		for {
			out, err := exec.Command("ip", args...).Output()
			if err == nil && bytes.Contains(out, []byte(" state UP ")) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("link %s (namespace %q) is not up: %s", l.name, l.ns, bytes.TrimSpace(out))
			}
			time.Sleep(10 * time.Millisecond) // the kernel's link watch runs on its own schedule
		}
	}
	return nil
}

// ip runs the ip tool, returning its output in the error.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func logErr(tb testing.TB, err error) {
	if err != nil {
		tb.Logf("netns cleanup: %v", err)
	}
}
