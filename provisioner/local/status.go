package local

import (
	"context"
	"os"
	"path/filepath"
	"sort"

	"larder/engine"
	"larder/provisioner"
)

// Status reports the host and its nodes: those it supervises, and node
// directories it holds but does not supervise (state "unsupervised", no id),
// e.g. after an agent restart, so the broker can adopt or remove them.
func (h *Host) Status(ctx context.Context) (provisioner.HostStatus, error) {
	st := provisioner.HostStatus{Name: h.opts.Name, Addr: h.opts.Addr, Engine: h.opts.Engine, Nodes: []provisioner.NodeStatus{}}
	entries, _ := os.ReadDir(h.opts.Root)
	h.mu.Lock()
	seen := map[string]bool{}
	for _, m := range h.nodes {
		seen[m.spec.Name] = true
	}
	for _, e := range entries {
		if e.IsDir() && !seen[e.Name()] && engine.SafeName(e.Name()) {
			st.Nodes = append(st.Nodes, provisioner.NodeStatus{Name: e.Name(), State: "unsupervised"})
		}
	}
	for _, m := range h.nodes {
		ns := provisioner.NodeStatus{ID: m.spec.ID, Name: m.spec.Name, Port: m.spec.Port, LastOK: m.lastOK}
		if m.proc != nil {
			ns.PID = m.proc.PID
		}
		switch {
		case m.failed:
			ns.State = "failed"
		case m.down:
			ns.State = "down"
		case m.proc == nil:
			ns.State = "starting"
		default:
			ns.State = "running"
		}
		st.Nodes = append(st.Nodes, ns)
	}
	h.mu.Unlock()
	for i := range st.Nodes {
		st.Nodes[i].Epoch, st.Nodes[i].Pause = fencingOf(filepath.Join(h.opts.Root, st.Nodes[i].Name))
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
	return st, nil
}
