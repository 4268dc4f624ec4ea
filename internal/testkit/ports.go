package testkit

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Range is a block of loopback ports owned by one package's tests.
type Range struct {
	Name   string
	Lo, Hi int
}

// The port ranges of the packages whose tests start engines. Each package
// owns one so packages tested at the same time (one lock per package)
// never collide; TestRangesDisjoint keeps them apart, below the kernel's
// ephemeral ports (32768+), which outgoing connections take at any moment.
var (
	Metrics       = Range{"broker/metrics", 10000, 10999}
	Pairs         = Range{"broker/pairs", 11000, 11999}
	EdgeSync      = Range{"daemon/edgesync", 12000, 12999}
	EdgeDefault   = Range{"a broker's default edge ports (make run)", 13000, 13999}
	HTTPAPI       = Range{"broker/httpapi", 14000, 14999}
	Engine        = Range{"engine", 15000, 15999}
	Self          = Range{"testkit", 16000, 16999}
	Backup        = Range{"backup", 17000, 17999}
	BrokerBackups = Range{"broker/backups", 18000, 18999}
	Edge          = Range{"edge", 19000, 19999}
	Broker        = Range{"broker", 20000, 20999}
	BrokerDefault = Range{"a broker's default node ports (make run)", 21000, 21999}
	Integration   = Range{"integration", 22000, 27999}
	Local         = Range{"provisioner/local", 28000, 29999}
	Agent         = Range{"provisioner/agent", 30000, 31999}
	UI            = Range{"broker/ui", 32000, 32767}
	// Postgres is where internal/pgtest starts a package's PostgreSQL
	// cluster (each package tested starts its own, on one port).
	Postgres = Range{"internal/pgtest", 9000, 9999}
)

// Ranges lists every range; a new one is added here.
var Ranges = []Range{Metrics, Pairs, EdgeSync, EdgeDefault, HTTPAPI, Engine, Self, Backup, BrokerBackups, Edge, Broker, BrokerDefault, Integration, Local, Agent, UI, Postgres}

// Block is the n-th block of width ports in r (n from 0), wrapping around
// at r's end: a test that hands each broker a block of its own reuses the
// blocks of brokers long gone rather than leave its range.
func (r Range) Block(n, width int) (lo, hi int) {
	blocks := max((r.Hi-r.Lo+1)/width, 1)
	lo = r.Lo + (n%blocks)*width
	return lo, lo + width - 1
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// FreePort returns a port of r that nobody listens on (on 127.0.0.1) and
// that no other test of this process was given, or fails the test.
func FreePort(tb testing.TB, r Range) int {
	tb.Helper()
	port, err := r.Free()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// Free returns a port of r that nobody listens on (on 127.0.0.1) and that
// was not given before in this process: FreePort for code outside a test
// (a TestMain's server).
func (r Range) Free() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(r.Hi-r.Lo+1)))
		if err != nil {
			return 0, err
		}
		port := r.Lo + int(n.Int64())
		if portsUsed[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d (%s)", r.Lo, r.Hi, r.Name)
}
