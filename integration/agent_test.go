package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Agent is a `larder agent` process under test: a host the broker places
// nodes on, here on loopback.
type Agent struct {
	t     testing.TB
	b     *Broker
	Name  string
	Dir   string
	Port  int
	cmd   *exec.Cmd
	logs  *syncBuffer
	done  chan struct{}
	extra []string
	// Brokers, when set, is the agent's --broker list instead of b's URL.
	Brokers string
}

// freeTCPPort asks the kernel for a free loopback port.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartAgent runs an agent that registers with b, and waits until b lists it.
func (b *Broker) StartAgent(name string, extra ...string) *Agent {
	return b.StartAgentVia("", name, extra...)
}

// StartAgentVia is StartAgent with brokers ("": b's URL) as the agent's
// --broker list.
func (b *Broker) StartAgentVia(brokers, name string, extra ...string) *Agent {
	b.t.Helper()
	a := &Agent{t: b.t, b: b, Name: name, Dir: filepath.Join(filepath.Dir(b.DataDir), "agent-"+name), Port: freeTCPPort(b.t), extra: extra, Brokers: brokers}
	b.t.Cleanup(a.cleanup)
	a.Start()
	return a
}

// Start (re)starts the agent process.
func (a *Agent) Start() {
	a.t.Helper()
	a.logs = &syncBuffer{}
	brokers := a.b.URL
	if a.Brokers != "" {
		brokers = a.Brokers
	}
	args := []string{"agent", "--host", a.Name, "--listen", fmt.Sprintf("127.0.0.1:%d", a.Port), "--addr", "127.0.0.1",
		"--data-dir", a.Dir, "--token", "agent-secret-" + a.Name, "--broker", brokers, "--broker-token", a.b.Token,
		"--check-interval", "100ms", "--hang-timeout", "1s"}
	a.cmd = exec.Command(larderBin, append(args, a.extra...)...)
	a.cmd.Env = baseEnv(a.b.Home)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		a.t.Fatalf("start agent: %v", err)
	}
	a.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(a.cmd, a.done)
	WaitFor(a.t, 20*time.Second, "agent "+a.Name+" registered and up", func() error {
		select {
		case <-a.done:
			a.t.Fatalf("agent %s exited:\n%s", a.Name, a.logs.String())
		default:
		}
		return a.b.hostUp(a.Name)
	})
}

// hostUp is nil once b lists host name as up.
func (b *Broker) hostUp(name string) error {
	hosts, err := b.Client().Hosts(context.Background())
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if h.Name == name && h.State == "up" {
			return nil
		}
	}
	return fmt.Errorf("hosts: %+v", hosts)
}

// Kill stops the agent with SIGKILL: its nodes keep running, as they would
// on a machine whose agent crashed.
func (a *Agent) Kill() {
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Kill()
	<-a.done
	a.cmd = nil
}

func (a *Agent) cleanup() {
	a.Kill()
	killNodes(a.Dir)
	if a.t.Failed() && a.logs != nil {
		a.t.Logf("agent %s log:\n%s", a.Name, a.logs.String())
	}
}

// nodePIDByPort finds the pid of the node listening on port under dir.
func nodePIDByPort(dir string, port int) (int, string, bool) {
	confs, _ := filepath.Glob(filepath.Join(dir, "nodes", "*", "node.conf"))
	for _, c := range confs {
		data, _ := os.ReadFile(c)
		if containsLine(string(data), fmt.Sprintf("port %d", port)) {
			pid, ok := readPID(filepath.Join(filepath.Dir(c), "node.pid"))
			return pid, filepath.Dir(c), ok
		}
	}
	return 0, "", false
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
