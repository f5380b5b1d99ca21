package propeller

import (
	"fmt"

	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
)

// ready reports whether every dependency of n succeeded.
func ready(n *wfv1.TaskNode, nodes map[string]wfv1.NodeStatus) bool {
	for _, d := range n.DependsOn {
		if nodes[d].Phase != wfv1.NodeSucceeded {
			return false
		}
	}
	return true
}

// resolveInputs computes the values of n's input bindings. An upstream node
// that succeeded without the named output is an error the node cannot
// recover from by running again.
func resolveInputs(wf *wfv1.Workflow, n *wfv1.TaskNode, nodes map[string]wfv1.NodeStatus) (map[string]string, error) {
	if len(n.Inputs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(n.Inputs))
	for name, b := range n.Inputs {
		switch {
		case b.Value != nil:
			out[name] = *b.Value
		case b.FromInput != "":
			v, ok := wf.Spec.Inputs[b.FromInput]
			if !ok {
				return nil, fmt.Errorf("input %q: workflow input %q is not given", name, b.FromInput)
			}
			out[name] = v
		case b.FromNode != "":
			up, ok := nodes[b.FromNode]
			if !ok || up.Phase != wfv1.NodeSucceeded {
				return nil, fmt.Errorf("input %q: node %q has not succeeded", name, b.FromNode)
			}
			v, ok := up.Outputs[b.Output]
			if !ok {
				return nil, fmt.Errorf("input %q: node %q has no output %q", name, b.FromNode, b.Output)
			}
			out[name] = v
		default:
			return nil, fmt.Errorf("input %q: binding names no source", name)
		}
	}
	return out, nil
}

// leafOutputs gathers the workflow's outputs: those of the nodes no other
// node depends on, keyed "<node>.<output>".
func leafOutputs(wf *wfv1.Workflow, nodes map[string]wfv1.NodeStatus) map[string]string {
	upstream := map[string]bool{}
	for _, n := range wf.Spec.Nodes {
		for _, d := range n.DependsOn {
			upstream[d] = true
		}
	}
	var out map[string]string
	for _, n := range wf.Spec.Nodes {
		if upstream[n.ID] {
			continue
		}
		for k, v := range nodes[n.ID].Outputs {
			if out == nil {
				out = map[string]string{}
			}
			out[n.ID+"."+k] = v
		}
	}
	return out
}

// validateDAG refuses unknown or duplicate nodes, unknown dependencies and
// cycles.
func validateDAG(wf *wfv1.Workflow) error {
	indeg := make(map[string]int, len(wf.Spec.Nodes))
	for _, n := range wf.Spec.Nodes {
		if _, dup := indeg[n.ID]; dup {
			return fmt.Errorf("invalid workflow: duplicate node %q", n.ID)
		}
		indeg[n.ID] = 0
	}
	down := map[string][]string{}
	for _, n := range wf.Spec.Nodes {
		for _, d := range n.DependsOn {
			if _, ok := indeg[d]; !ok {
				return fmt.Errorf("invalid workflow: node %q depends on unknown node %q", n.ID, d)
			}
			indeg[n.ID]++
			down[d] = append(down[d], n.ID)
		}
	}
	var queue []string
	for _, n := range wf.Spec.Nodes {
		if indeg[n.ID] == 0 {
			queue = append(queue, n.ID)
		}
	}
	seen := 0
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		seen++
		for _, c := range down[id] {
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if seen != len(wf.Spec.Nodes) {
		return fmt.Errorf("invalid workflow: dependency cycle")
	}
	return nil
}
