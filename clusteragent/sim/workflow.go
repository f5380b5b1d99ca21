package sim

import (
	"fmt"
	"maps"
	"strings"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
)

// OutputPath is the one output every simulated node produces.
const OutputPath = "path"

// workflow is one simulated workflow copy.
type workflow struct {
	id      wfID
	seq     uint64
	phase   v1.ExecutionPhase
	message string
	inputs  map[string]string
	nodes   map[string]*node
	order   []*node // topological: a node comes after all it depends on
	outputs map[string]string
}

// node is one task node of a simulated workflow.
type node struct {
	spec    v1.TaskNode
	req     v1.Amounts
	reqErr  error
	timeout time.Duration
	status  v1.NodeStatus
	end     time.Time // when a running node ends
	fails   string    // why the running attempt will fail, "" if it succeeds
	leaf    bool
}

func newWorkflow(id wfID, seq uint64, a v1.Assignment) *workflow {
	w := &workflow{
		id:     id,
		seq:    seq,
		phase:  v1.PhaseRunning,
		inputs: maps.Clone(a.Inputs),
		nodes:  make(map[string]*node, len(a.Workflow.Nodes)),
	}
	for _, tn := range a.Workflow.Nodes {
		n := &node{spec: tn, leaf: true, status: v1.NodeStatus{Phase: v1.NodePending}}
		n.req, n.reqErr = tn.Resources.Amounts()
		if tn.Timeout != "" {
			if d, err := time.ParseDuration(tn.Timeout); err == nil && d > 0 {
				n.timeout = d
			}
		}
		w.nodes[tn.ID] = n
	}
	order, err := topoOrder(a.Workflow.Nodes)
	if err != nil {
		// The control plane validates specs; this guards the simulation
		// against hanging on a DAG that can never finish.
		w.phase, w.message = v1.PhaseFailed, fmt.Sprintf("invalid workflow: %v", err)
		for _, n := range w.nodes {
			n.status.Phase = v1.NodeSkipped
		}
		for _, tn := range a.Workflow.Nodes {
			w.order = append(w.order, w.nodes[tn.ID])
		}
		return w
	}
	for _, id := range order {
		n := w.nodes[id]
		w.order = append(w.order, n)
		for _, d := range n.spec.DependsOn {
			w.nodes[d].leaf = false
		}
	}
	for id, st := range a.Resume {
		n, ok := w.nodes[id]
		if !ok {
			continue
		}
		n.status = v1.NodeStatus{Phase: v1.NodeSucceeded, Attempts: st.Attempts, Outputs: maps.Clone(st.Outputs), Message: "resumed from an earlier attempt", Cached: st.Cached}
		if n.status.Outputs == nil {
			n.status.Outputs = map[string]string{OutputPath: outputPath(w.id.key, id)}
		}
	}
	return w
}

// topoOrder orders node ids so that each comes after its dependencies, or
// says why it cannot.
func topoOrder(nodes []v1.TaskNode) ([]string, error) {
	indeg := make(map[string]int, len(nodes))
	users := make(map[string][]string, len(nodes))
	for _, n := range nodes {
		if _, dup := indeg[n.ID]; dup {
			return nil, fmt.Errorf("duplicate node %q", n.ID)
		}
		indeg[n.ID] = 0
	}
	for _, n := range nodes {
		for _, d := range n.DependsOn {
			if _, ok := indeg[d]; !ok {
				return nil, fmt.Errorf("node %q depends on unknown node %q", n.ID, d)
			}
			indeg[n.ID]++
			users[d] = append(users[d], n.ID)
		}
	}
	var order, ready []string
	for _, n := range nodes {
		if indeg[n.ID] == 0 {
			ready = append(ready, n.ID)
		}
	}
	for len(ready) > 0 {
		id := ready[0]
		ready = ready[1:]
		order = append(order, id)
		for _, u := range users[id] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(nodes) {
		return nil, fmt.Errorf("dependency cycle among %d nodes", len(nodes)-len(order))
	}
	return order, nil
}

func outputPath(key v1.ExecutionKey, node string) string {
	return "sim://" + key.String() + "/" + node
}

// finishDue ends the running nodes whose time is up. It reports whether
// anything changed.
func (b *Backend) finishDue(w *workflow, now time.Time) bool {
	changed := false
	for _, n := range w.order {
		if n.status.Phase != v1.NodeRunning || now.Before(n.end) {
			continue
		}
		changed = true
		b.release(n)
		n.status.FinishedAt = &now
		if n.fails == "" {
			n.status.Phase, n.status.Message = v1.NodeSucceeded, ""
			n.status.Outputs = map[string]string{OutputPath: outputPath(w.id.key, n.spec.ID)}
			b.cacheDone(n)
			continue
		}
		if n.status.Attempts <= n.spec.Retries {
			n.status.Phase = v1.NodePending
			n.status.Message = fmt.Sprintf("attempt %d of %d failed: %s; retrying", n.status.Attempts, n.spec.Retries+1, n.fails)
		} else {
			n.status.Phase = v1.NodeFailed
			n.status.Message = fmt.Sprintf("attempt %d of %d failed: %s", n.status.Attempts, n.spec.Retries+1, n.fails)
		}
		n.fails = ""
		b.cacheDone(n)
	}
	return changed
}

// schedule skips the nodes below a failure, starts the ready nodes that fit
// the free capacity and settles the workflow once no node can move. It
// reports whether anything changed.
func (b *Backend) schedule(w *workflow, now time.Time) bool {
	if w.phase.Terminal() {
		return false
	}
	changed := false
	active := false
	for _, n := range w.order {
		if n.status.Phase == v1.NodeRunning {
			active = true
		}
		if n.status.Phase != v1.NodePending {
			continue
		}
		ready, blocked := true, ""
		for _, d := range n.spec.DependsOn {
			switch dn := w.nodes[d]; dn.status.Phase {
			case v1.NodeSucceeded:
			case v1.NodeFailed, v1.NodeSkipped, v1.NodeAborted:
				blocked = d
			default:
				ready = false
			}
		}
		switch {
		case blocked != "":
			n.status.Phase, n.status.Message = v1.NodeSkipped, fmt.Sprintf("upstream node %s did not succeed", blocked)
			changed = true
			continue
		case !ready:
			active = true
			continue
		}
		if why := b.unrunnable(w, n); why != "" {
			n.status.Phase, n.status.Message = v1.NodeFailed, why
			changed = true
			continue
		}
		active = true
		if run, hit := b.cacheGate(w, n); !run {
			changed = changed || hit
			continue // looking its outputs up in the task cache (cache.go)
		}
		if !n.req.Fits(b.opts.Capacity.Sub(b.used)) {
			continue // waits for room, like an unschedulable pod
		}
		b.used = b.used.Add(n.req)
		n.status.Phase, n.status.Message = v1.NodeRunning, ""
		n.status.Attempts++
		b.runs++
		// What usage accounting charges: the requests, from now until the node ends.
		req := n.req
		n.status.StartedAt, n.status.FinishedAt, n.status.Requests = &now, nil, &req
		n.end = now.Add(b.opts.TaskDuration)
		switch {
		case n.timeout > 0 && n.timeout < b.opts.TaskDuration:
			n.end, n.fails = now.Add(n.timeout), fmt.Sprintf("timed out after %s", n.timeout)
		case b.opts.FailRate > 0 && b.rng.Float64() < b.opts.FailRate:
			n.fails = "simulated failure"
		}
		changed = true
	}
	if !active {
		b.settle(w)
		changed = true
	}
	return changed
}

// unrunnable says why a ready node can never run, or "".
func (b *Backend) unrunnable(w *workflow, n *node) string {
	if n.reqErr != nil {
		return fmt.Sprintf("resources: %v", n.reqErr)
	}
	if !n.req.Fits(b.opts.Capacity) {
		return fmt.Sprintf("requests %+v exceed the cluster's capacity %+v", n.req, b.opts.Capacity)
	}
	for name, bind := range n.spec.Inputs {
		switch {
		case bind.FromInput != "":
			if _, ok := w.inputs[bind.FromInput]; !ok {
				return fmt.Sprintf("input %q: workflow input %q is not given", name, bind.FromInput)
			}
		case bind.FromNode != "":
			up, ok := w.nodes[bind.FromNode]
			if !ok {
				return fmt.Sprintf("input %q: no node %q", name, bind.FromNode)
			}
			if _, ok := up.status.Outputs[bind.Output]; !ok {
				return fmt.Sprintf("input %q: node %q has no output %q", name, bind.FromNode, bind.Output)
			}
		}
	}
	return ""
}

// settle gives a workflow whose nodes all stopped its final phase.
func (b *Backend) settle(w *workflow) {
	var failed []string
	w.outputs = map[string]string{}
	for _, n := range w.order {
		switch n.status.Phase {
		case v1.NodeFailed:
			failed = append(failed, n.spec.ID)
		case v1.NodeSucceeded:
			if n.leaf {
				for k, v := range n.status.Outputs {
					w.outputs[n.spec.ID+"."+k] = v
				}
			}
		}
	}
	if len(failed) > 0 {
		w.phase, w.message = v1.PhaseFailed, "failed nodes: "+strings.Join(failed, ", ")
		return
	}
	w.phase, w.message = v1.PhaseSucceeded, ""
}

// state copies the workflow for List.
func (w *workflow) state() clusteragent.WorkflowState {
	st := clusteragent.WorkflowState{
		Key:     w.id.key,
		Attempt: w.id.attempt,
		Phase:   w.phase,
		Message: w.message,
		Nodes:   make(map[string]v1.NodeStatus, len(w.nodes)),
		Outputs: maps.Clone(w.outputs),
	}
	for id, n := range w.nodes {
		s := n.status
		s.Outputs = maps.Clone(s.Outputs)
		st.Nodes[id] = s
	}
	return st
}
