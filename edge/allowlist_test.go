package edge

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"larder/internal/netns"
)

// clientFrom is a go-redis client whose connections come from local, an
// address of this machine (any of 127.0.0.0/8 is).
func clientFrom(t *testing.T, addr, pass, local string) *redis.Client {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c := redis.NewClient(&redis.Options{Addr: addr, Password: pass, Protocol: 2, MaxRetries: -1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAllowlistLoopbackAddresses(t *testing.T) {
	n := startNode(t)
	e := newEdge(t, Config{})
	r := routeTo("a1", n, 1)
	r.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	addr := stats(t, e, "a1").PlainAddr
	ctx := context.Background()

	if got := firstReply(t, addr, "127.0.0.3"); got != ErrDenied {
		t.Errorf("a client outside the allowlist read %q, want exactly %q", got, ErrDenied)
	}
	if err := clientFrom(t, addr, n.Pass, "127.0.0.3").Ping(ctx).Err(); err == nil || !strings.HasSuffix(err.Error(), "AUTH failed: Client IP address is not in the allowlist.") {
		t.Errorf("go-redis outside the allowlist: %v, want Render's error", err)
	}
	pinned := clientFrom(t, addr, n.Pass, "127.0.0.2").Conn()
	defer pinned.Close()
	if err := pinned.Ping(ctx).Err(); err != nil {
		t.Fatalf("a client inside the allowlist: %v", err)
	}
	if s := stats(t, e, "a1"); s.Denied != 2 {
		t.Errorf("Denied = %d, want 2", s.Denied)
	}

	// The allowlist changes: the open connection from 127.0.0.2 is cut, and
	// new ones from there are refused.
	r.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}
	if err := e.Set(r); err != nil {
		t.Fatal(err)
	}
	if err := pinned.Ping(ctx).Err(); err == nil {
		t.Errorf("an open connection now outside the allowlist still answers")
	}
	if got := firstReply(t, addr, "127.0.0.2"); got != ErrDenied {
		t.Errorf("after the change 127.0.0.2 read %q, want %q", got, ErrDenied)
	}
	if err := clientFrom(t, addr, n.Pass, "127.0.0.3").Ping(ctx).Err(); err != nil {
		t.Errorf("127.0.0.3, now allowed: %v", err)
	}
	if s := stats(t, e, "a1"); s.Cut != 1 || s.Open != 1 {
		t.Errorf("Cut, Open = %d, %d; want 1, 1 (the idle pool connection of 127.0.0.3)", s.Cut, s.Open)
	}
}

// Clients in network namespaces stand for hosts elsewhere: 198.18.5.0/24
// is neither loopback nor private, so the default allowlist refuses them.
func TestAllowlistFromOtherHosts(t *testing.T) {
	netns.RequireRoot(t)
	n := startNode(t)
	out := netns.New(t, "edge-out", "198.18.5.2", "198.18.5.1")
	in := netns.New(t, "edge-in", "198.18.5.3", "198.18.5.1")
	e := newEdge(t, Config{})
	r := routeTo("a1", n, 1)
	r.Plain = "198.18.5.1:0"
	if err := e.Apply([]Route{r}); err != nil {
		t.Fatal(err)
	}
	host, port := hostPort(t, stats(t, e, "a1").PlainAddr)
	ping := func(ns *netns.NS) string {
		b, _ := ns.Exec("redis-cli", "--no-auth-warning", "-h", host, "-p", port, "-a", n.Pass, "PING").CombinedOutput()
		return strings.TrimSpace(string(b))
	}
	const denied = "AUTH failed: Client IP address is not in the allowlist."
	for _, ns := range []*netns.NS{out, in} {
		if got := ping(ns); !strings.Contains(got, denied) {
			t.Errorf("redis-cli from %s under the default allowlist = %q, want %q", ns.IP, got, denied)
		}
	}

	r.Allow = []netip.Prefix{netip.MustParsePrefix(in.IP + "/32")}
	if err := e.Set(r); err != nil {
		t.Fatal(err)
	}
	if got := ping(in); got != "PONG" {
		t.Errorf("redis-cli from %s, allowed = %q, want PONG", in.IP, got)
	}
	if got := ping(out); !strings.Contains(got, denied) {
		t.Errorf("redis-cli from %s, not allowed = %q, want %q", out.IP, got, denied)
	}

	// A connection held open from the allowed host is cut once its address
	// leaves the list.
	cmd := in.Exec(os.Args[0])
	cmd.Env = append(os.Environ(), "EDGE_TEST_HOLD="+net.JoinHostPort(host, port)+" "+n.Pass)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if got := readLine(t, lines); got != "ready" {
		t.Fatalf("the held client said %q, want ready", got)
	}
	r.Allow = []netip.Prefix{netip.MustParsePrefix(out.IP + "/32")}
	if err := e.Set(r); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, lines); !strings.HasPrefix(got, "closed") {
		t.Errorf("the held client said %q, want closed", got)
	}
	if got := ping(out); got != "PONG" {
		t.Errorf("redis-cli from %s, now allowed = %q, want PONG", out.IP, got)
	}
}

func readLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			return "(no more output)"
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line from the held client within 10s")
		return ""
	}
}

func TestAllowsDefaultAndMapped(t *testing.T) {
	tests := []struct {
		allow []netip.Prefix
		ip    string
		want  bool
	}{
		{nil, "127.0.0.1", true},
		{nil, "10.1.2.3", true},
		{nil, "172.31.255.255", true},
		{nil, "172.32.0.1", false},
		{nil, "192.168.1.1", true},
		{nil, "::1", true},
		{nil, "fd12::1", true},
		{nil, "8.8.8.8", false},
		{nil, "198.18.5.2", false},
		{nil, "::ffff:10.0.0.1", true}, // an IPv4 client of a dual-stack listener
		{nil, "2001:db8::1", false},
		{[]netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, "203.0.113.9", true},
		{[]netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, "::ffff:203.0.113.9", true},
		{[]netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, "127.0.0.1", false}, // a list replaces the default
		{[]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, "8.8.8.8", true},
	}
	for _, tt := range tests {
		if got := allows(tt.allow, netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("allows(%v, %s) = %v, want %v", tt.allow, tt.ip, got, tt.want)
		}
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"203.0.113.0/24", "203.0.113.0/24", ""},
		{" 10.0.0.0/8 ", "10.0.0.0/8", ""},
		{"203.0.113.7", "203.0.113.7/32", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"::ffff:1.2.3.4", "1.2.3.4/32", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"", "", "an empty allowlist entry"},
		{"10.0.0.1/8", "", `"10.0.0.1/8" has bits set after the prefix length: did you mean 10.0.0.0/8?`},
		{"10.0.0.0/33", "", `"10.0.0.0/33" is not a CIDR (e.g. 203.0.113.0/24): prefix length out of range`},
		{"10.0.0/8", "", `"10.0.0/8" is not a CIDR`},
		{"example.com", "", `"example.com" is not an IP address or CIDR`},
		{"fe80::1%eth0", "", `is not an IP address or CIDR`},
		{"::ffff:1.2.3.0/120", "", "IPv4-mapped IPv6 CIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCIDR(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCIDR(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseCIDR(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := ParseAllowlist([]string{"10.0.0.0/8", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("ParseAllowlist with a bad entry: %v, want it named", err)
	}
	if got, err := ParseAllowlist([]string{"10.0.0.0/8", "10.0.0.0/8 "}); err != nil || len(got) != 1 {
		t.Errorf("ParseAllowlist(duplicates) = %v, %v; want one entry", got, err)
	}
}

// FuzzParseCIDR: whatever the input, ParseCIDR either refuses it with a
// message or returns a canonical prefix that parses back to itself and that
// a route accepts.
func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "1.2.3.4", "::1", "fe80::1%eth0/64", "10.0.0.1/8", "::ffff:1.2.3.4/128", " ", "1.2.3.4/-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCIDR(s)
		if err != nil {
			var k interface{ Error() string }
			if !errors.As(err, &k) || err.Error() == "" {
				t.Fatalf("ParseCIDR(%q): an error without a message", s)
			}
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParseCIDR(%q) = %v: not canonical", s, p)
		}
		if q, err := ParseCIDR(p.String()); err != nil || q != p {
			t.Fatalf("ParseCIDR(%q) = %v, which parses back as %v, %v", s, p, q, err)
		}
		r := Route{ID: "a", Plain: "127.0.0.1:0", Allow: []netip.Prefix{p}}
		if err := r.validate(); err != nil {
			t.Fatalf("a route refuses ParseCIDR(%q) = %v: %v", s, p, err)
		}
	})
}
