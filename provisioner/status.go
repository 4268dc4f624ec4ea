package provisioner

import (
	"context"
	"sort"
)

// Status reports the host and the nodes it supervises.
func (h *LocalHost) Status(ctx context.Context) (HostStatus, error) {
	st := HostStatus{Name: h.opts.Name, Addr: h.opts.Addr, Engine: h.opts.Engine, Nodes: []NodeStatus{}}
	h.mu.Lock()
	for _, m := range h.nodes {
		ns := NodeStatus{ID: m.spec.ID, Name: m.spec.Name, Port: m.spec.Port, LastOK: m.lastOK}
		if m.proc != nil {
			ns.PID = m.proc.pid
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
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
	return st, nil
}
