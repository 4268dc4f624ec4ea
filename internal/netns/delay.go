package netns

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// This kernel has no netem qdisc, so latency is made in user space, at the
// link layer: Delay moves the root end of the namespace's veth pair into a
// small "delay" namespace of its own and joins it to the bridge through a
// new veth pair; a goroutine pair copies every Ethernet frame between the two
// (raw packet sockets) after holding it for the delay. Everything to and from
// the namespace (connects, replies, ARP) is delayed in each direction, from
// every peer on the bridge (other namespaces and the root namespace alike),
// while other namespaces are not. The frames keep their offload metadata
// (virtio net header), so large TCP segments and unfinished checksums cross
// as they would on the veth itself.
//
//	[n: eth0] ⇄ [delay ns: rootIface ⇄ relay ⇄ side] ⇄ [root: bridge port]

// Delay is a user-space delay on one namespace's link.
type Delay struct {
	n      *NS
	nsName string // the delay namespace
	port   string // the new bridge port in the root namespace
	side   string // its peer, inside the delay namespace
	delay  atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
	fds    []int
	once   sync.Once
}

// Delay adds d of latency in each direction on the namespace's link (a
// round trip takes 2·d longer) until Close or the test's end. Set changes it
// live.
func (n *NS) Delay(d time.Duration) *Delay {
	n.tb.Helper()
	mu.Lock()
	seq++
	id := seq
	mu.Unlock()
	dl := &Delay{n: n, nsName: fmt.Sprintf("larder-dly%d-%d", id, os.Getpid()), port: fmt.Sprintf("lv%x-%d", os.Getpid(), id),
		side: "side0", stop: make(chan struct{})}
	dl.delay.Store(int64(d))
	n.tb.Cleanup(dl.Close)
	steps := [][]string{
		{"netns", "add", dl.nsName},
		{"link", "add", dl.port, "type", "veth", "peer", "name", dl.side, "netns", dl.nsName},
		{"link", "set", dl.port, "master", n.br.name, "up"},
		{"link", "set", n.rootIface, "netns", dl.nsName},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			dl.Close()
			n.tb.Fatalf("delay %s: %v", n.Name, err)
		}
	}
	var inner, outer int
	err := inNetns(dl.nsName, func() (err error) {
		if inner, err = packetSocket(n.rootIface); err != nil {
			return err
		}
		dl.fds = append(dl.fds, inner)
		if outer, err = packetSocket(dl.side); err != nil {
			return err
		}
		dl.fds = append(dl.fds, outer)
		return nil
	})
	if err == nil {
		err = ip("-n", dl.nsName, "link", "set", n.rootIface, "up")
	}
	if err == nil {
		err = ip("-n", dl.nsName, "link", "set", dl.side, "up")
	}
	if err == nil {
		err = waitUp(link{dl.nsName, n.rootIface}, link{dl.nsName, dl.side}, link{"", dl.port}, link{n.Name, n.Iface})
	}
	if err != nil {
		dl.Close()
		n.tb.Fatalf("delay %s: %v", n.Name, err)
	}
	dl.relay(inner, outer)
	dl.relay(outer, inner)
	return dl
}

// Set changes the delay, live; 0 lifts it (frames still cross the relay).
func (dl *Delay) Set(d time.Duration) { dl.delay.Store(int64(d)) }

// Close stops the relay and puts the namespace's link back on the bridge
// directly. It is safe to call more than once.
func (dl *Delay) Close() {
	dl.once.Do(func() {
		close(dl.stop)
		dl.wg.Wait()
		for _, fd := range dl.fds {
			unix.Close(fd)
		}
		if nsExists(dl.nsName) {
			// The veth end goes home before its temporary namespace is
			// deleted, which would destroy it (and the namespace's link).
			if linkIn(dl.nsName, dl.n.rootIface) {
				logErr(dl.n.tb, ip("-n", dl.nsName, "link", "set", dl.n.rootIface, "netns", strconv.Itoa(os.Getpid())))
				logErr(dl.n.tb, ip("link", "set", dl.n.rootIface, "master", dl.n.br.name, "up"))
				logErr(dl.n.tb, waitUp(link{"", dl.n.rootIface}, link{dl.n.Name, dl.n.Iface}))
			}
		}
		// Deleting the bridge port takes its peer with it at once; the
		// namespace's deletion alone would leave that to the kernel, later.
		if linkExists(dl.port) {
			logErr(dl.n.tb, ip("link", "del", dl.port))
		}
		if nsExists(dl.nsName) {
			logErr(dl.n.tb, ip("netns", "del", dl.nsName))
		}
	})
}

// frame is one Ethernet frame (with its virtio net header) and when it
// arrived.
type frame struct {
	at   time.Time
	data []byte
}

// relay copies frames from one socket to the other, each one held until
// the delay after its arrival has passed; order is kept.
func (dl *Delay) relay(from, to int) {
	q := make(chan frame, 4096)
	dl.wg.Add(2)
	go func() {
		defer dl.wg.Done()
		defer close(q)
		buf := make([]byte, 1<<17)
		for {
			select {
			case <-dl.stop:
				return
			default:
			}
			m, _, err := unix.Recvfrom(from, buf, 0)
			if err != nil {
				if err != unix.EAGAIN && err != unix.EINTR {
					time.Sleep(10 * time.Millisecond) // e.g. the link is down: no busy loop
				}
				continue // the receive timeout: look at stop again
			}
			select {
			case q <- frame{time.Now(), append([]byte(nil), buf[:m]...)}:
			default: // a full queue drops, as a real link's would
			}
		}
	}()
	go func() {
		defer dl.wg.Done()
		t := time.NewTimer(0)
		defer t.Stop()
		for f := range q {
			if wait := time.Until(f.at.Add(time.Duration(dl.delay.Load()))); wait > 0 {
				t.Reset(wait)
				select {
				case <-dl.stop:
					return
				case <-t.C: // holding the frame is the point of the relay
				}
			}
			unix.Write(to, f.data)
		}
	}()
}

// packetSocket opens a raw socket on interface name of the calling thread's
// namespace that reads every frame arriving there and writes frames out of
// it, each with its virtio net header.
func packetSocket(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return -1, err
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	for _, o := range []struct{ level, opt, v int }{
		{unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1},
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1},
		{unix.SOL_SOCKET, unix.SO_RCVBUF, 4 << 20},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return -1, fmt.Errorf("packet socket option %d: %w", o.opt, err)
		}
	}
	// Readers wake up this often to notice Close.
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return -1, err
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return -1, fmt.Errorf("promiscuous %s: %w", name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return -1, fmt.Errorf("bind %s: %w", name, err)
	}
	ok = true
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// inNetns runs f on an OS thread that has joined namespace name; sockets f
// opens stay in that namespace. The thread goes back to this process's
// namespace afterwards, or is thrown away if it cannot.
func inNetns(name string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- err
			return // the thread is not locked back: it ends with this goroutine
		}
		defer home.Close()
		target, err := os.Open("/run/netns/" + name)
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			done <- fmt.Errorf("enter %s: %w", name, err)
			return
		}
		err = f()
		if setns(home) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

func setns(f *os.File) error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }

func linkIn(ns, name string) bool { return ip("-n", ns, "link", "show", name) == nil }
