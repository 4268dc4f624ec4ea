// Package edge is larder's stable endpoint: a proxy that gives every add-on
// an address for its whole life and forwards each client connection to the
// add-on's current primary, with TLS, a CIDR allowlist and a connection
// limit. An app's REDIS_URL names the edge, never a node, so a failover,
// switchover, plan change, host drain or fork cut-over changes nothing in
// the app's config: clients reconnect (go-redis, ioredis and redis-py do by
// default) and land on the new primary.
//
// # Routes
//
// The edge holds one Route per add-on: its id, a plain and a TLS listen
// address, the backend (the primary's host:port), the epoch under which that
// backend was chosen, the allowlist, the connection limit and TLSOnly. The
// daemon (the `larder edge` role, or the broker's in-process edge) calls
// Apply with the whole desired state at start, and Set or Remove whenever
// the store's change feed says an add-on changed; the edge polls nothing.
// Apply is idempotent, opens and closes listeners as routes come and go
// (a port can move from one route to another in one call), and refuses
// invalid input as a whole: a bad address, a duplicate id or address, a
// TLS address without a certificate, or a port it cannot open is an error
// (a fault.Invalid or fault.Unavailable) and nothing changes.
//
// Why one port per add-on and kind: the port is the only thing every Redis
// client sends before it speaks (SNI needs TLS and client support, and
// routing on AUTH means reading the client's secret and holding the
// connection until it authenticates). A port per add-on works for plain and
// TLS alike, lets the allowlist act before a byte is read, and keeps the
// data path free of parsing. The store claims the ports, like node ports,
// so they never change for the add-on's life; two ports per add-on leave
// room for tens of thousands of add-ons per edge address.
//
// # Epochs
//
// Every change of primary bumps the add-on's epoch in the store. The edge
// takes a route only with an epoch newer than the one it holds, or the same
// epoch and the same backend (then only the allowlist, limit or addresses
// change). An older epoch, or the same epoch naming another backend, is
// refused: the route stays as held and Apply's error wraps ErrStaleEpoch and
// names it, while the other routes of the call are applied. So a late or
// replayed change never sends clients back to a demoted node.
//
// # Connections
//
// On a change of backend or epoch, new connections go to the new backend
// and the route's open connections are closed at once (both sides), so no
// client keeps talking to the old node; clients reconnect by themselves. An
// allowlist change is checked against every open connection (one whose
// address is no longer allowed is cut), and so is TLSOnly (open plain
// connections are cut). A lowered connection limit applies to new
// connections only, as the engine's maxclients does.
//
// Plain connections are copied with TCPConn.ReadFrom between two TCP
// sockets in both directions, which is splice(2) on Linux: the bytes never
// enter the process. TLS connections are terminated with crypto/tls and
// copied through 16 KB buffers from a pool; the backend side reads only
// when data is there (RawConn), so an idle connection holds no buffer for
// that direction. A client's clean end of its requests (EOF) is passed on
// as a half-close and the replies get HalfCloseTimeout to finish; the
// node's end of its side (CLIENT KILL, its idle timeout) is passed on and
// then closes both sides, as it would direct, so the connection stops
// counting against the limit at once; any error closes both. Both sides get TCP keepalive (60 s idle, 10 s
// interval, 6 probes), so a client or node that vanished is noticed; there
// is no idle timeout at the edge (pub/sub connections are idle for hours;
// the node's own `timeout` setting applies). Each connection has two
// goroutines and none outlives it; Close waits for all of them.
//
// # Refusals
//
// A client the route refuses is answered with a RESP error to each of its
// first requests (go-redis sends HELLO, then AUTH when HELLO fails, and
// reports the second answer), then the edge half-closes and lingers until
// the client closes, so the error is read even if the client sent more:
//
//   - not in the allowlist: `-AUTH failed: Client IP address is not in the allowlist.`
//     (Render's text, byte for byte);
//   - over the limit: `-ERR max number of clients reached` (the engine's
//     text, which go-redis retries);
//   - a plain connection under TLSOnly: `-ERR this add-on accepts TLS
//     connections only: ...`. The plain listener stays open rather than
//     closed, so the port stays the add-on's (TLSOnly can be lifted without
//     a new URL) and a client sees why instead of "connection refused".
//
// A route with no backend (during a failover), or a backend that cannot be
// reached, closes the client's connection without a word: clients treat
// that as a network error and retry, as they would against a dead node.
//
// # Allowlist
//
// A route's allowlist is a list of CIDRs; an empty list means
// DefaultAllowlist, loopback and private networks (127.0.0.0/8, ::1,
// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7): external access is
// off until the owner allows a network. A list replaces the default rather
// than adding to it, so what is allowed is exactly what is listed; the API
// should start an add-on's first `--add` from the default list so that
// allowing one office network does not cut off the app on the private
// network. ParseCIDR and ParseAllowlist read user input (a CIDR or a bare
// address) and refuse what is not canonical with the reason (`"10.0.0.1/8"
// has bits set after the prefix length: did you mean 10.0.0.0/8?`); the API
// and CLI reuse them.
//
// # TLS
//
// Certs holds the server certificate behind an atomic pointer read by
// every handshake. CACerts issues one from larder's own CA (package
// internal/pki: created at first start, ca.key 0600, ca.crt for clients'
// --cacert) for the hosts and addresses clients use, and issues it again
// before it expires. FileCerts serves an operator's certificate and key;
// Edge.Reload (on SIGHUP) reads them again without touching open
// connections, and a bad file is an error that names it while the
// certificate in use stays.
//
// # Keeping connections open through a planned switchover (later)
//
// Today a switchover closes the route's connections. Keeping them open
// needs the edge to (1) know where each client command ends and how many
// replies are outstanding, (2) stop forwarding a connection's requests at a
// command boundary once the switchover starts and let the replies of those
// already sent arrive, (3) dial the new primary and replay the connection's
// state (AUTH, SELECT, HELLO, CLIENT SETNAME; connections in MULTI,
// pub/sub, MONITOR or a blocking command are closed as today), and (4)
// resume. The request half of (1) is here: Config.Framed copies requests
// through a RESP scanner (reqScanner) that follows the stream without
// buffering it (headers parsed, payloads skipped by arithmetic), counts
// commands and knows whether the stream is at a boundary. The reply half is
// the same kind of scanner over replies (RESP2 and RESP3 types, with push
// frames not counted as replies), on the same pooled-copy path. Since
// splice gives the process no view of the bytes, a connection that may be
// kept open must be framed from its first byte, both ways; the benchmark
// measures the framed request path against splice, and a route (a plan)
// could opt in. The replay needs the arguments of the few state-changing
// commands, which the scanner can capture as it passes them.
//
// # Go proxy or HAProxy: the measurement
//
// BenchmarkEdge (`make bench`) runs redis-benchmark -c 50 -P 16 (throughput)
// and -P 1 with 50 and 1 clients (latency), SET and GET, against the node,
// this edge, HAProxy 2.6 in TCP mode, the node's own TLS port, the TLS edge
// and HAProxy terminating TLS, all in one run, interleaved, rounds rotated;
// it also reports each proxy's CPU per request and the memory of 1 000 idle
// connections. Figures of three runs of three rounds each on the 2-core
// development machine, shared with other builds (load average 6-11; the
// spread between rounds of one configuration was 20-120 %), medians of
// each run:
//
//	                                 edge            HAProxy         edge framed
//	-P 16 SET/GET, % of direct       84/82 74/64 50/63  84/67 101/45 41/65  74/70 72/47 40/47
//	-P 16 CPU µs per request         2.00 2.25 1.85  1.52 1.75 1.65  2.48 2.50 2.35
//	-P 1 -c 50 CPU µs per request    34.1 37.9 32.1  24.1 24.1 22.0  32.8 35.3 33.5
//	-c 1 p50 (direct 31 µs)          103-119 71-79 79-95  95-103 103-135 95-103  79-87 87-103 79
//	TLS -P 16 SET/GET, % of the node's TLS port
//	                                 96/75 (n/a) 106/107  69/69 (n/a) 95/64
//	idle connection, KB              12 (Go heap+stacks; + 4 pipe fds)  1-3 (RSS)
//	idle TLS connection, KB          37                                 14
//
// What the figures say: on throughput and latency the edge and HAProxy are
// level within the noise, and the TLS edge matches or beats HAProxy's TLS
// and reaches the node's own TLS port (96-107 % in two runs of three).
// HAProxy spends less CPU per plain request (about 20 % less pipelined,
// 30 % less unpipelined; equal with TLS) and far less memory per idle
// connection. Neither proxy reaches 90 % of direct plain throughput here,
// for a reason of the machine, not of the proxy: redis-benchmark and
// redis-server already keep both cores busy, so any proxy's CPU is taken
// from them; the transferable figure is CPU per request (2 µs pipelined:
// one edge core carries about 500 000 pipelined requests/s). For the same
// reason p99 at -P 1 measures the machine's scheduling delays (the direct
// p99 alone moved between 63 µs and 1.4 ms); the added p50 with one client,
// 40-90 µs, is the edge's own cost.
//
// Decision: the Go proxy. It is level with HAProxy on the load, and what
// the edge must do is natural in it and awkward or impossible in HAProxy
// 2.6 driven through its runtime API: answer a denied client with Render's
// RESP error (TCP mode cannot write a payload without Lua), cut the open
// connections of one client network when an allowlist changes (enumerate
// `show sess`, then `shutdown session` one by one), open a listener for a
// new add-on (the runtime API adds servers, not binds: every new add-on
// would be a reload), hold epoch fencing in the same process as the
// routes, and frame RESP commands for keeping connections open through a
// switchover. HAProxy stays the benchmark's anchor. What the Go edge costs
// in exchange is CPU (a fifth to two fifths more per plain request) and
// memory per idle connection (12 KB against 1-3, mostly the stacks of its
// two goroutines); both are small next to the node behind it.
//
// The framed request path costs about a fifth more CPU than splice at
// -P 16 and none measurable at -P 1 (with one client its p50 was as low as
// splice's or lower in two runs of three); splice's clear gain is on large
// payloads, so keeping connections open through switchovers can afford
// framing.
package edge
