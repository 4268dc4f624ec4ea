package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"larder/api"
	command "larder/cli"
	"larder/engine"
	"larder/internal/atomicfile"
	"larder/internal/testkit"
	"larder/provisioner/agent"
)

func TestAgentUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unspecified listen", []string{"--host", "h1", "--listen", "0.0.0.0:7481"}, "give --addr"},
		{"no port", []string{"--host", "h1", "--listen", "127.0.0.1"}, "invalid --listen"},
		{"bad name", []string{"--host", "h 1", "--listen", "127.0.0.1:7481"}, "invalid --host"},
		{"broker without token", []string{"--host", "h1", "--listen", "127.0.0.1:7481", "--broker", "http://127.0.0.1:1"}, "--broker-token"},
		{"broker list with an empty element", []string{"--host", "h1", "--listen", "127.0.0.1:7481", "--broker", "http://127.0.0.1:1,", "--broker-token", "t"}, "--broker: invalid broker URL list: element 2 of 2: it is empty"},
		{"broker list with another scheme", []string{"--host", "h1", "--listen", "127.0.0.1:7481", "--broker", "tcp://127.0.0.1:1", "--broker-token", "t"}, `scheme "tcp" is not http or https`},
		{"broker URL with credentials", []string{"--host", "h1", "--listen", "127.0.0.1:7481", "--broker", "http://127.0.0.1:1,http://u:hunter2@127.0.0.1:2", "--broker-token", "t"}, "http://…@127.0.0.1:2 carries credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LARDER_BROKER_TOKEN", "")
			var out, errw bytes.Buffer
			code := command.Main(append([]string{"larder", "agent", "--data-dir", t.TempDir()}, tt.args...), strings.NewReader(""), &out, &errw, Commands()...)
			stderr := errw.String()
			if code != exitUsage || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "usage: larder agent") {
				t.Errorf("exit %d, stderr %q; want %d and %q with the usage line", code, stderr, exitUsage, tt.want)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr repeats the password: %q", stderr)
			}
		})
	}
}

// exitUsage is the command line's exit code for a usage mistake.
const exitUsage = 2

func TestAdvertised(t *testing.T) {
	tests := []struct{ listen, addr, want string }{
		{"198.18.0.2:7481", "198.18.0.2", "198.18.0.2:7481"},
		{"0.0.0.0:7481", "10.0.0.5", "10.0.0.5:7481"},
		{"[::]:7481", "10.0.0.5", "10.0.0.5:7481"},
		{":7481", "10.0.0.5", "10.0.0.5:7481"},
	}
	for _, tt := range tests {
		if got := advertised(tt.listen, tt.addr); got != tt.want {
			t.Errorf("advertised(%q, %q) = %q, want %q", tt.listen, tt.addr, got, tt.want)
		}
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), agentTokenFile)
	tok, made, err := atomicfile.LoadOrCreateSecret(path)
	if err != nil || !made || len(tok) < 32 {
		t.Fatalf("loadOrCreateToken() = %q, %v, %v; want a fresh long token", tok, made, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	again, made, err := atomicfile.LoadOrCreateSecret(path)
	if err != nil || made || again != tok {
		t.Errorf("second loadOrCreateToken() = %q, %v, %v; want the same token, not made", again, made, err)
	}
}

// fakeBroker accepts agent registrations at POST /hosts after refusing the
// first one, as a broker still starting would.
type fakeBroker struct {
	mu    sync.Mutex
	tries int
	got   *api.HostRegister
	auth  string
}

func (b *fakeBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/hosts" {
		http.NotFound(w, r)
		return
	}
	if b.tries++; b.tries == 1 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"id":"unavailable","message":"starting"}`))
		return
	}
	var reg api.HostRegister
	if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.got, b.auth = &reg, r.Header.Get("Authorization")
	w.WriteHeader(http.StatusCreated)
}

func (b *fakeBroker) registration() (*api.HostRegister, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got, b.auth
}

func TestAgentServesAndRegisters(t *testing.T) {
	if _, err := engine.Discover(); err != nil {
		t.Skipf("no engine: %v", err)
	}
	fb := &fakeBroker{}
	broker := httptest.NewServer(fb)
	t.Cleanup(broker.Close)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &testkit.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		app := command.NewApp(strings.NewReader(""), &testkit.SyncBuffer{}, stderr, Commands()...)
		done <- app.RunContext(ctx, []string{"larder", "agent", "--host", "h1", "--listen", "127.0.0.1:0",
			"--data-dir", dir, "--broker", broker.URL, "--broker-token", "broker-secret", "--log-level", "error"})
	}()

	var reg *api.HostRegister
	var auth string
	for deadline := time.Now().Add(10 * time.Second); reg == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("no registration after 10s; agent said:\n%s", stderr)
		}
		select {
		case err := <-done:
			t.Fatalf("agent ended early: %v; it said:\n%s", err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		reg, auth = fb.registration()
	}
	token, err := os.ReadFile(filepath.Join(dir, agentTokenFile))
	if err != nil {
		t.Fatalf("generated token: %v", err)
	}
	if reg.Name != "h1" || !strings.HasPrefix(reg.URL, "http://127.0.0.1:") || reg.Token != strings.TrimSpace(string(token)) || auth != "Bearer broker-secret" {
		t.Errorf("registration = %+v with %q; want h1, its URL, the generated token, the broker's token", reg, auth)
	}
	if !strings.Contains(stderr.String(), filepath.Join(dir, agentTokenFile)) {
		t.Errorf("agent did not say where its token is:\n%s", stderr)
	}

	r, err := agent.NewRemoteHost(agent.RemoteOptions{Name: "h1", URL: reg.URL, Token: reg.Token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	st, err := r.Status(context.Background())
	if err != nil || st.Name != "h1" || st.Addr != "127.0.0.1" || len(st.Nodes) != 0 {
		t.Errorf("Status() = %+v, %v; want h1 on 127.0.0.1 with no nodes", st, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("agent after interrupt: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent still running 15s after interrupt")
	}
}
