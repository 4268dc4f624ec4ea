package edge

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"larder/fault"
)

// Route is what the edge knows of one add-on: where its stable endpoint
// listens, which node serves it now and under which epoch, and who may
// connect. It is plain data, so the daemon builds it from the store.
type Route struct {
	ID      string // the add-on's id
	Plain   string // listen address for plain connections (host:port), "" for none
	TLS     string // listen address for TLS connections, "" for none
	Backend string // the primary node (host:port); "" while the add-on has none
	Epoch   int64  // the add-on's epoch under which Backend was chosen

	// Allow lists the networks clients may connect from. Empty means
	// DefaultAllowlist: loopback and private networks only.
	Allow []netip.Prefix
	// MaxConns caps the client connections open through the edge; 0 means
	// no cap at the edge (the node's maxclients still applies).
	MaxConns int
	// TLSOnly refuses plain connections: the plain listener stays open (so
	// the port stays the add-on's) and answers every client ErrTLSOnly.
	TLSOnly bool
}

// DefaultAllowlist is the allowlist of a route that sets none: loopback
// and private networks, so an add-on is reachable from this machine and
// its private network but not from outside until its owner says so.
var DefaultAllowlist = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
}

// The RESP errors the edge answers before closing a connection it refuses.
// ErrDenied is Render's text, byte for byte, so clients written against
// Render's managed Redis recognise it.
const (
	ErrDenied    = "-AUTH failed: Client IP address is not in the allowlist.\r\n"
	ErrMaxConns  = "-ERR max number of clients reached\r\n"
	ErrTLSOnly   = "-ERR this add-on accepts TLS connections only: connect with rediss:// to its TLS port\r\n"
	maxAllowlist = 1000 // CIDRs per add-on: far above any real list, low enough to bound a check
)

// ParseCIDR reads one allowlist entry: a CIDR (203.0.113.0/24,
// 2001:db8::/32) or a single address (203.0.113.7, meaning /32 or /128).
// The error is a fault.Invalid whose message says what is wrong and, where
// it can, what was meant; the API and the CLI reuse it.
func ParseCIDR(s string) (netip.Prefix, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return netip.Prefix{}, fault.E(fault.Invalid, "an empty allowlist entry: give a CIDR such as 203.0.113.0/24")
	}
	if !strings.Contains(in, "/") {
		a, err := netip.ParseAddr(in)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fault.E(fault.Invalid, "%q is not an IP address or CIDR (e.g. 203.0.113.0/24)", in)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(in)
	if err != nil {
		return netip.Prefix{}, fault.E(fault.Invalid, "%q is not a CIDR (e.g. 203.0.113.0/24): %s", in, reason(err))
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fault.E(fault.Invalid, "%q is an IPv4-mapped IPv6 CIDR: write the IPv4 CIDR instead", in)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fault.E(fault.Invalid, "%q has bits set after the prefix length: did you mean %s?", in, m)
	}
	return p, nil
}

// ParseAllowlist reads a list of entries with ParseCIDR, dropping
// duplicates. The first bad entry is the error; nothing is returned then.
func ParseAllowlist(entries []string) ([]netip.Prefix, error) {
	if len(entries) > maxAllowlist {
		return nil, fault.E(fault.Invalid, "%d allowlist entries: at most %d", len(entries), maxAllowlist)
	}
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		p, err := ParseCIDR(e)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// reason is the part of a netip error worth showing: it repeats the input.
func reason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// allows reports whether ip may connect under allow (DefaultAllowlist when
// empty). IPv4 clients of a dual-stack listener arrive as ::ffff:a.b.c.d.
func allows(allow []netip.Prefix, ip netip.Addr) bool {
	if len(allow) == 0 {
		allow = DefaultAllowlist
	}
	ip = ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// validate checks one route on its own; Apply checks the set (duplicate ids
// and addresses) and the edge's own capabilities.
func (r Route) validate() error {
	if r.ID == "" {
		return fault.E(fault.Invalid, "a route without an add-on id")
	}
	if r.Plain == "" && r.TLS == "" {
		return fault.E(fault.Invalid, "route %s has neither a plain nor a TLS address", r.ID)
	}
	for _, a := range []struct{ what, addr string }{{"plain address", r.Plain}, {"TLS address", r.TLS}, {"backend", r.Backend}} {
		if a.addr == "" {
			continue
		}
		if err := checkHostPort(a.addr, a.what == "backend"); err != nil {
			return fault.E(fault.Invalid, "route %s: %s %q: %v", r.ID, a.what, a.addr, err)
		}
	}
	if r.Plain != "" && r.Plain == r.TLS && !anyPort(r.Plain) {
		return fault.E(fault.Invalid, "route %s: the plain and TLS addresses are both %s", r.ID, r.Plain)
	}
	if r.Epoch < 0 {
		return fault.E(fault.Invalid, "route %s: epoch %d is negative", r.ID, r.Epoch)
	}
	if r.MaxConns < 0 {
		return fault.E(fault.Invalid, "route %s: connection limit %d is negative", r.ID, r.MaxConns)
	}
	if len(r.Allow) > maxAllowlist {
		return fault.E(fault.Invalid, "route %s: %d allowlist entries: at most %d", r.ID, len(r.Allow), maxAllowlist)
	}
	for _, p := range r.Allow {
		if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" {
			return fault.E(fault.Invalid, "route %s: allowlist entry %q is not a CIDR", r.ID, p)
		}
	}
	return nil
}

// checkHostPort accepts host:port with a numeric port (0 only for listen
// addresses, where it means "any free port": tests use it).
func checkHostPort(addr string, backend bool) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (backend && n == 0) {
		return fmt.Errorf("port %q is not a port number", port)
	}
	return nil
}

// anyPort reports whether a listen address asks for any free port, so two
// routes may both name it.
func anyPort(addr string) bool {
	_, port, _ := net.SplitHostPort(addr)
	return port == "0"
}

// equal reports whether two routes are the same (Allow compared as sets
// in order; the edge keeps what it was given).
func (r Route) equal(o Route) bool {
	return r.ID == o.ID && r.Plain == o.Plain && r.TLS == o.TLS && r.Backend == o.Backend &&
		r.Epoch == o.Epoch && r.MaxConns == o.MaxConns && r.TLSOnly == o.TLSOnly && slices.Equal(r.Allow, o.Allow)
}
