package netns

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a tiny TCP server or client run inside a
// namespace: NETNS_TEST_LISTEN=ADDR accepts and answers "ok", NETNS_TEST_DIAL=ADDR
// connects and prints what it read.
func TestMain(m *testing.M) {
	if addr := os.Getenv("NETNS_TEST_LISTEN"); addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(1)
			}
			fmt.Fprintln(c, "ok")
			c.Close()
		}
	}
	if addr := os.Getenv("NETNS_TEST_DIAL"); addr != "" {
		got, err := dial2(addr)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(got)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func dial(addr string) (string, error) { return dialWithin(addr, 500*time.Millisecond) }

// dial2 is dial with room for a delayed link.
func dial2(addr string) (string, error) { return dialWithin(addr, 1500*time.Millisecond) }

// dialWithin connects to addr and reads a line, each within d.
func dialWithin(addr string, d time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// serve runs the listener inside ns and waits until it listens.
func serve(t *testing.T, ns *NS, addr string) {
	t.Helper()
	cmd := ns.Exec(os.Args[0])
	cmd.Env = append(os.Environ(), "NETNS_TEST_LISTEN="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "listening\n" {
		t.Fatalf("listener in %s said %q, %v", ns.Name, line, err)
	}
}

func TestNamespacesCutAndHeal(t *testing.T) {
	RequireRoot(t)
	// What must be gone once the namespaces' cleanups ran; this cleanup,
	// registered first, runs after them.
	var left []string
	t.Cleanup(func() {
		for _, cmd := range [][]string{{"netns", "list"}, {"-o", "link", "show"}, {"route", "show", "table", "main"}} {
			out, _ := exec.Command("ip", cmd...).Output()
			for _, s := range left {
				if strings.Contains(string(out), s) {
					t.Errorf("%q left behind:\n%s", s, out)
				}
			}
		}
	})
	a := New(t, "a", "198.18.3.2", "198.18.3.1")
	b := New(t, "b", "198.18.3.3", "198.18.3.1")
	mu.Lock()
	route := fmt.Sprintf("blackhole %s metric %d", Range, routeMetric)
	left = append(left, a.Name, b.Name, a.rootIface, b.rootIface, a.br.name, route)
	mu.Unlock()
	if out, _ := exec.Command("ip", "route", "show", "table", "main").Output(); !strings.Contains(string(out), route) {
		t.Errorf("no %q while namespaces exist:\n%s", route, out)
	}
	serve(t, a, "198.18.3.2:7000")

	if got, err := dial("198.18.3.2:7000"); err != nil || got != "ok" {
		t.Fatalf("root → a = %q, %v; want ok", got, err)
	}
	fromB := func() (string, error) {
		cmd := b.Exec(os.Args[0])
		cmd.Env = append(os.Environ(), "NETNS_TEST_DIAL=198.18.3.2:7000")
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if got, err := fromB(); err != nil || got != "ok" {
		t.Fatalf("b → a = %q, %v; want ok", got, err)
	}

	a.Cut()
	if got, err := dial("198.18.3.2:7000"); err == nil || !isTimeout(err) {
		t.Errorf("root → a while cut = %q, %v; want a timeout", got, err)
	}
	if got, err := fromB(); err == nil {
		t.Errorf("b → a while cut = %q, want an error", got)
	}

	a.Heal()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		var got string
		if got, err = dial("198.18.3.2:7000"); err == nil && got == "ok" {
			break
		}
		time.Sleep(20 * time.Millisecond) // then look again
	}
	if err != nil {
		t.Errorf("root → a after heal: %v", err)
	}
}

func TestNewRefusesAddressesOutsideTheRange(t *testing.T) {
	for _, addr := range []string{"192.0.2.5", "10.0.0.1", "198.20.0.1", "198.18.0.1/8", "x"} {
		if _, err := parseAddr(addr); err == nil {
			t.Errorf("parseAddr(%q) = nil error, want it refused", addr)
		}
	}
	for _, addr := range []string{"198.18.0.2", "198.19.255.2/24", "198.18.4.2/30"} {
		if _, err := parseAddr(addr); err != nil {
			t.Errorf("parseAddr(%q) = %v, want it accepted", addr, err)
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// timed returns how long f took, failing the test on its error.
func timed(t *testing.T, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// connectRTT is how long a TCP connect to addr takes: one round trip.
func connectRTT(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

func TestDelayAddsLatencyToOneNamespaceOnly(t *testing.T) {
	RequireRoot(t)
	const d = 150 * time.Millisecond
	slow := New(t, "slow", "198.18.3.12", "198.18.3.1")
	fast := New(t, "fast", "198.18.3.13", "198.18.3.1")
	obs := New(t, "obs", "198.18.3.14", "198.18.3.1")
	serve(t, slow, "198.18.3.12:7000")
	serve(t, fast, "198.18.3.13:7000")
	// minRTT is the fastest of a few connects: an upper bound must not fail
	// on one slow sample of a loaded machine.
	minRTT := func(addr string) time.Duration {
		best := time.Hour
		for range 3 {
			best = min(best, timed(t, func() error { return connectRTT(addr) }))
		}
		return best
	}
	dl := slow.Delay(d)
	for i := range 3 {
		rtt := timed(t, func() error { return connectRTT("198.18.3.12:7000") })
		if rtt < 2*d || rtt > 2*d+time.Second {
			t.Errorf("connect %d to the delayed namespace took %v, want 2×%v (plus a little)", i, rtt, d)
		}
		t.Logf("connect through a %v delay: %v", d, rtt)
	}
	// A request and its answer: connect (one round trip), then the server's
	// line, which leaves after the client's ACK crossed (another one).
	if took := timed(t, func() error { _, err := dial2("198.18.3.12:7000"); return err }); took < 4*d {
		t.Errorf("connect and read through the delay took %v, want at least %v", took, 4*d)
	}
	if rtt := minRTT("198.18.3.13:7000"); rtt >= d {
		t.Errorf("the other namespace is delayed too: connect took %v", rtt)
	}
	// From another namespace (an observer's location) as well.
	cmd := obs.Exec(os.Args[0])
	cmd.Env = append(os.Environ(), "NETNS_TEST_DIAL=198.18.3.12:7000")
	var out []byte
	took := timed(t, func() (err error) { out, err = cmd.Output(); return err })
	if strings.TrimSpace(string(out)) != "ok" || took < 4*d {
		t.Errorf("obs → slow = %q after %v, want ok after at least %v", out, took, 4*d)
	}

	dl.Set(0)
	if rtt := minRTT("198.18.3.12:7000"); rtt >= d {
		t.Errorf("delay lifted live, yet connect took %v", rtt)
	}
	dl.Set(d)
	if rtt := timed(t, func() error { return connectRTT("198.18.3.12:7000") }); rtt < 2*d {
		t.Errorf("delay set again, yet connect took %v", rtt)
	}
	// A cut still cuts through the relay, and heals.
	slow.Cut()
	if _, err := dial("198.18.3.12:7000"); err == nil {
		t.Errorf("dial to the cut, delayed namespace succeeded")
	}
	slow.Heal()
	dl.Close()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if err = connectRTT("198.18.3.12:7000"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // then look again
	}
	if err != nil {
		t.Fatalf("after the relay's removal: %v", err)
	}
	if rtt := minRTT("198.18.3.12:7000"); rtt >= d {
		t.Errorf("relay removed, yet connect took %v", rtt)
	}
	for _, cmd := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, _ := exec.Command("ip", cmd...).Output()
		for _, s := range []string{dl.nsName, dl.port} {
			if strings.Contains(string(out), s) {
				t.Errorf("%q left behind after Close:\n%s", s, out)
			}
		}
	}
}

// TestBridgeAddressStaysPut: the peer address lives on the bridge, and a
// Linux bridge takes the lowest address of its ports unless its own was set.
// A port joining later (another namespace, a Delay's relay) would then move
// the peer to a new link-layer address while the namespaces' neighbour
// caches still hold the old one: their traffic to the peer went nowhere for
// the 15-30 s those entries live (observers stopped reporting to a broker
// on the bridge right after a Delay on another host).
func TestBridgeAddressStaysPut(t *testing.T) {
	RequireRoot(t)
	a := New(t, "mac-a", "198.18.3.22", "198.18.3.1")
	mac := func() string {
		t.Helper()
		data, err := os.ReadFile("/sys/class/net/" + a.br.name + "/address")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	first := mac()
	if data, err := os.ReadFile("/sys/class/net/" + a.br.name + "/addr_assign_type"); err != nil || strings.TrimSpace(string(data)) != "3" {
		t.Errorf("bridge %s address assign type %q (%v), want 3 (set, so it never follows its ports)", a.br.name, strings.TrimSpace(string(data)), err)
	}
	for i := range 6 {
		New(t, fmt.Sprintf("mac-%d", i), fmt.Sprintf("198.18.3.%d", 30+i), "198.18.3.1")
	}
	a.Delay(time.Millisecond)
	if got := mac(); got != first {
		t.Errorf("the bridge's address moved from %s to %s as ports joined", first, got)
	}
}
