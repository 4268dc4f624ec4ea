package edge

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// idleMemory opens 1 000 idle connections (one PING each) through each
// proxy from a child process and reports the proxy's growth in resident
// memory per connection (for the edge, also Go's own heap and stacks).
func (k *benchKit) idleMemory(b *testing.B) {
	const conns = 1000
	var out strings.Builder
	fmt.Fprintf(&out, "\nmemory of %d idle connections (each has done AUTH and PING)\n", conns)
	for _, t := range k.targets {
		if t.pid < 0 {
			continue
		}
		rss0 := rssKB(t.pid)
		var m0 runtime.MemStats
		if t.pid == 0 {
			runtime.GC()
			debug.FreeOSMemory()
			runtime.ReadMemStats(&m0)
		}
		stop := k.holdIdle(t, conns)
		rss1 := rssKB(t.pid)
		line := fmt.Sprintf("  %-12s RSS +%6.1f KB/conn", t.name, float64(rss1-rss0)/conns)
		if t.pid == 0 {
			runtime.GC()
			var m1 runtime.MemStats
			runtime.ReadMemStats(&m1)
			heap := float64(int64(m1.HeapInuse+m1.StackInuse)-int64(m0.HeapInuse+m0.StackInuse)) / 1024 / conns
			line += fmt.Sprintf("   Go heap+stacks +%5.1f KB/conn   goroutines %d", heap, runtime.NumGoroutine())
			b.ReportMetric(float64(rss1-rss0)/conns, strings.ReplaceAll(t.name, " ", "-")+"-idle-KB/conn")
		}
		fmt.Fprintln(&out, line)
		stop()
	}
	fmt.Print(out.String())
}

func rssKB(pid int) int64 {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// holdIdle opens conns connections through t from a child process, so only
// the proxy's side counts in this process, and returns once every one has
// answered a PING; the returned func closes them.
func (k *benchKit) holdIdle(t target, conns int) (stop func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	tlsFlag := "plain"
	if t.tls {
		tlsFlag = k.caPath
	}
	cmd.Env = append(os.Environ(), fmt.Sprintf("EDGE_BENCH_IDLE=%s %s %d %s", t.addr, k.node.Pass, conns, tlsFlag))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		k.tb.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		k.tb.Fatalf("idle connections through %s: %q, %v", t.name, line, err)
	}
	return func() { stdin.Close(); cmd.Wait() }
}

// holdIdleConns is the child side of holdIdle.
func holdIdleConns(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 4 {
		return 2
	}
	addr, pass, caPath := f[0], f[1], f[3]
	n, _ := strconv.Atoi(f[2])
	var cfg *tls.Config
	if caPath != "plain" {
		pemData, err := os.ReadFile(caPath)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pemData)
		cfg = &tls.Config{ServerName: "127.0.0.1", RootCAs: roots}
	}
	var held []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil && cfg != nil {
			c = tls.Client(c, cfg)
		}
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Fprintf(c, "AUTH %s\r\nPING\r\n", pass)
		r := bufio.NewReader(c)
		for range 2 {
			if _, err := r.ReadString('\n'); err != nil {
				fmt.Println(err)
				return 1
			}
		}
		held = append(held, c)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	for _, c := range held {
		c.Close()
	}
	return 0
}
