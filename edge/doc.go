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
// Plain connections are carried by the edge's event loops (below). TLS
// connections are terminated with crypto/tls and copied through 16 KB
// buffers from a pool; the backend side reads only when data is there
// (RawConn), so an idle connection holds no buffer for that direction. A
// client's clean end of its requests (EOF) is passed on as a half-close
// and the replies get HalfCloseTimeout to finish; the node's end of its
// side (CLIENT KILL, its idle timeout) is passed on and then closes both
// sides, as it would direct, so the connection stops counting against the
// limit at once; any error closes both. Both sides get TCP keepalive (60 s
// idle, 10 s interval, 6 probes), so a client or node that vanished is
// noticed; there is no idle timeout at the edge (pub/sub connections are
// idle for hours; the node's own `timeout` setting applies). A TLS or
// Framed connection has two goroutines and none outlives it; a plain one
// has none once it is carried by a loop. Close waits for all of them, and
// for the loops.
//
// # The plain data path: event loops
//
// Once a plain connection is admitted and its backend dialed, route.serve
// hands both sockets to one of the edge's event loops and returns: the
// loop works on duplicates of the two descriptors (non-blocking,
// close-on-exec) and the Go connections are closed, which takes them out
// of Go's netpoller. A loop is one goroutine on an OS thread of its own
// with an epoll set, level-triggered, of its pairs' sockets (readable and
// peer-closed), and an eventfd that wakes it for messages (add a pair, cut
// a pair, stop). For each ready socket it reads once into its single 16 KB
// buffer and writes what came to the peer; what the peer does not take at
// once is kept in a pooled buffer for that direction, the peer is watched
// for writability and the source is not read until the rest is written.
// So a connection holds at most 16 KB per direction in the process
// (backpressure, as the copy it replaced) and an idle one holds no buffer,
// no goroutine and no pipe: its memory is its small bookkeeping. The
// semantics are the copy's: the client's end is a shutdown(SHUT_WR) of
// the backend once its bytes are written, with HalfCloseTimeout for the
// replies (a timer of the loop); the node's end goes to the client, then
// both close; any error closes both. A cut (route change, Close) comes
// from another goroutine: under the pair's lock, and only while the loop
// has not closed them (a descriptor number may be reused at once), it
// shuts both sockets down and tells the loop, which closes them and
// reports the end, so the connection stops counting against the limit.
// Read and write are raw system calls (they never block, so the scheduler
// need not hand the processor over around them); only epoll_wait blocks.
// There is one loop per two processors, at most four, pairs assigned in
// turn: a loop's writes do the kernel's delivery work for the peer on the
// loop's processor, and the edge shares its host with nodes or clients; on
// two processors two loops cost a fifth more CPU per request than one, for
// the same throughput. Without epoll (not Linux) plain connections are
// spliced as before (TCPConn.ReadFrom, two goroutines each).
//
// Why not splice or goroutines: each direction as a goroutine woken by Go's
// netpoller costs, per batch of bytes, a wake-up of a goroutine (often a
// futex to wake a thread), the read, the write and a read that returns
// EAGAIN, twice per request; splice adds a pipe per direction (four
// descriptors per connection) and two system calls per batch. A loop pays
// one epoll_wait for many sockets and one read and one write per batch,
// which is what HAProxy does, and it beats HAProxy's CPU per request on
// the benchmark below.
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
// frames not counted as replies), on the same pooled-copy path. A
// connection that may be kept open must be framed from its first byte,
// both ways (the event loop sees the bytes, so the scanners could run in
// it); the benchmark measures the framed request path against the plain
// one, and a route (a plan) could opt in. The replay needs the arguments
// of the few state-changing commands, which the scanner can capture as it
// passes them.
//
// # Go proxy or HAProxy: the measurement
//
// BenchmarkEdge (`make bench`) runs redis-benchmark -c 50 -P 16 (throughput)
// and -P 1 with 50 and 1 clients (latency), SET and GET, against the node,
// this edge, HAProxy 2.6 in TCP mode, the node's own TLS port, the TLS edge
// and HAProxy terminating TLS, all in one run, interleaved, rounds rotated;
// it also reports each proxy's CPU per request and the memory of 1 000 idle
// connections. The decision below was taken on the splice edge (two
// goroutines per connection); figures of three runs of three rounds each
// on the 2-core development machine, shared with other builds (load
// average 6-11; the spread between rounds of one configuration was
// 20-120 %), medians of each run:
//
//	                                 edge (splice)   HAProxy         edge framed
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
// switchover. HAProxy stays the benchmark's anchor. What the splice edge
// cost in exchange was CPU (a fifth to two fifths more per plain request)
// and memory per idle connection (12 KB against 1-3, mostly the stacks of
// its two goroutines); the event loops removed both (figures below).
//
// The event loops then took the edge's plain path below HAProxy's CPU per
// request. CPU seconds per million requests (the whole edge process),
// medians of three rounds in each of three runs, the same 2-core machine
// (load average 3.5-4.5), unpinned and pinned (EDGE_BENCH_PIN=1: the
// proxy on a processor of its own):
//
//	                          unpinned                       pinned
//	                          edge            HAProxy        edge            HAProxy
//	-c 50 -P 16               1.20 1.45 1.47  1.62 1.93 1.55  1.88 1.60 1.67  1.93 1.60 1.77
//	-c 50 -P 1                20.0 23.5 19.2  22.1 21.8 22.8  29.4 26.9 25.4  28.5 25.8 28.5
//	-c 1 -P 1                 42.0 48.5 42.5  57.0 51.5 52.0  64.0 54.0 90.5  75.5 58.0 62.0
//	-P 16 SET/GET % of direct 49/65 61/62 61/51  50/74 60/62 46/48  71/59 60/58 65/70  65/52 72/71 58/58
//	-c 1 p99 added, µs        112/224 272/176 -16/176  320/128 120/160 -64/216
//	idle connection, KB       RSS ≤ 0 (Go heap 1.5)  3.1 RSS
//
// Against the splice edge measured on the same machine just before
// (1.98-2.28 at -P 16, 29.5-34.1 at -c 50 -P 1, unpinned) that is a third
// less CPU pipelined and unpipelined, and against HAProxy a tenth less
// unpinned and level to 6 % less pinned (medians of the runs); throughput and
// latency stay level with HAProxy within the noise. An idle plain
// connection costs no goroutine, no pipe and no buffer: the process's RSS
// does not grow measurably with 1 000 of them (Go heap +1.5 KB each,
// against 12 KB for two goroutines per connection).
//
// The framed request path costs about a fifth more CPU than splice at
// -P 16 and none measurable at -P 1 (with one client its p50 was as low as
// splice's or lower in two runs of three); splice's clear gain is on large
// payloads, so keeping connections open through switchovers can afford
// framing.
package edge
