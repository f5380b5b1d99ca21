package v1alpha1

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// fuzzWorkflow builds a workflow from fuzz bytes: a node count, then for
// each node its dependencies as indexes. Indexes past the node count become
// dangling references, a dependency on a later node can close a cycle, and
// a run of dependencies on one node is a fan-in (many nodes on one root is
// the fan-out), so every shape validation must judge comes out of a few
// bytes.
func fuzzWorkflow(data []byte) WorkflowSpec {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	n := next() % 40
	if n == 1 && len(data) > 0 && data[0] >= 0xfe {
		// A huge fan-out: one root and as many leaves as the limit allows
		// (0xfe), or one more (0xff).
		n = DefaultLimits.MaxNodes + int(data[0]) - 0xfe
	}
	var w WorkflowSpec
	for i := range n {
		w.Nodes = append(w.Nodes, TaskNode{ID: fmt.Sprintf("n%d", i), Image: "busybox"})
	}
	for i := range w.Nodes {
		deps := next() % 6
		if n > 40 {
			if i > 0 {
				w.Nodes[i].DependsOn = []string{"n0"}
			}
			continue
		}
		for range deps {
			j := next() % (n + 2) // n and n+1 dangle
			w.Nodes[i].DependsOn = append(w.Nodes[i].DependsOn, fmt.Sprintf("n%d", j))
		}
		if next()%4 == 0 && len(w.Nodes[i].DependsOn) > 0 {
			// Read an output of a dependency, or of any node.
			from := w.Nodes[i].DependsOn[0]
			if next()%2 == 0 {
				from = fmt.Sprintf("n%d", next()%(n+1))
			}
			w.Nodes[i].Inputs = map[string]Binding{"x": {FromNode: from, Output: "o"}}
		}
	}
	return w
}

// oracle judges a workflow independently of Validate: Kahn's algorithm for
// cycles, a plain scan for the rest.
func oracle(w *WorkflowSpec, l Limits) (valid bool, why string) {
	if len(w.Nodes) == 0 {
		return false, "empty"
	}
	if len(w.Nodes) > l.MaxNodes {
		return false, "too many nodes"
	}
	ids := map[string]bool{}
	for _, n := range w.Nodes {
		ids[n.ID] = true
	}
	indeg := map[string]int{}
	children := map[string][]string{}
	for _, n := range w.Nodes {
		seen := map[string]bool{}
		for _, d := range n.DependsOn {
			if !ids[d] {
				return false, "dangling"
			}
			if d == n.ID || seen[d] {
				return false, "self or repeated"
			}
			seen[d] = true
			indeg[n.ID]++
			children[d] = append(children[d], n.ID)
		}
	}
	var queue []string
	for _, n := range w.Nodes {
		if indeg[n.ID] == 0 {
			queue = append(queue, n.ID)
		}
	}
	// upstream[x] is every node with a path to x, built in topological order.
	upstream := map[string]map[string]bool{}
	visited := 0
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		visited++
		for _, c := range children[id] {
			if upstream[c] == nil {
				upstream[c] = map[string]bool{}
			}
			upstream[c][id] = true
			for u := range upstream[id] {
				upstream[c][u] = true
			}
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if visited != len(w.Nodes) {
		return false, "cycle"
	}
	for _, n := range w.Nodes {
		for _, b := range n.Inputs {
			if b.FromNode != "" && (!ids[b.FromNode] || !upstream[n.ID][b.FromNode]) {
				return false, "binding not upstream"
			}
		}
	}
	return true, ""
}

// FuzzWorkflowValidate checks workflow validation against the oracle on
// generated DAGs: cycles, dangling references, repeated and self
// dependencies, bindings to non-ancestors, and huge fan-out. A valid
// workflow's helpers (Ancestors, PeakResources) must then work on it.
func FuzzWorkflowValidate(f *testing.F) {
	f.Add([]byte{3, 0, 1, 0, 1, 1})          // a chain
	f.Add([]byte{2, 1, 1, 1, 0})             // a 2-cycle
	f.Add([]byte{2, 1, 3})                   // a dangling dependency
	f.Add([]byte{1, 0xfe})                   // a fan-out up to the node limit
	f.Add([]byte{1, 0xff})                   // a fan-out past the node limit
	f.Add([]byte{3, 0, 0, 1, 0, 0, 0, 0, 2}) // a binding from a non-ancestor
	f.Fuzz(func(t *testing.T, data []byte) {
		w := fuzzWorkflow(data)
		err := w.Validate(nil, DefaultLimits)
		want, why := oracle(&w, DefaultLimits)
		if (err == nil) != want {
			t.Fatalf("Validate = %v, oracle says valid=%v (%s) for %+v", err, want, why, w.Nodes)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("validation error %v does not wrap ErrInvalid", err)
			}
			return
		}
		anc := w.Ancestors()
		for _, n := range w.Nodes {
			for _, d := range n.DependsOn {
				if !anc[n.ID][d] {
					t.Fatalf("Ancestors misses %s -> %s", d, n.ID)
				}
			}
			if anc[n.ID][n.ID] {
				t.Fatalf("node %s is its own ancestor in a valid workflow", n.ID)
			}
		}
		_ = w.PeakResources()
	})
}

// FuzzLabelSelector decodes a selector from JSON as the API does, validates
// it, and checks Matches against the meaning of each operator on label sets
// derived from the selector itself.
func FuzzLabelSelector(f *testing.F) {
	f.Add([]byte(`{"matchLabels":{"region":"eu"}}`), []byte(`region=eu`))
	f.Add([]byte(`{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}`), []byte(`gpu=a100`))
	f.Add([]byte(`{"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]},{"key":"spot","operator":"DoesNotExist"}]}`), []byte(`tier=b`))
	f.Add([]byte(`{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["x"]}]}`), []byte(`zone=x`))
	f.Add([]byte(`{"matchExpressions":[{"key":"k","operator":"Near"}]}`), []byte(``))
	f.Add([]byte(`{"matchLabels":{"example.com/team":"ml-infra"}}`), []byte(`example.com/team=ml-infra`))
	f.Fuzz(func(t *testing.T, sel, lbl []byte) {
		var s LabelSelector
		if err := json.Unmarshal(sel, &s); err != nil {
			return
		}
		labels := map[string]string{}
		for len(lbl) > 0 {
			i := slices.Index(lbl, ',')
			if i < 0 {
				i = len(lbl)
			}
			kv := lbl[:i]
			if j := slices.Index(kv, '='); j >= 0 {
				labels[string(kv[:j])] = string(kv[j+1:])
			}
			lbl = lbl[min(i+1, len(lbl)):]
		}
		valid := s.Validate() == nil
		got := s.Matches(labels)
		// The reference meaning, requirement by requirement.
		want := true
		for k, v := range s.MatchLabels {
			if lv, ok := labels[k]; !ok || lv != v {
				want = false
			}
		}
		for _, r := range s.MatchExpressions {
			v, ok := labels[r.Key]
			var m bool
			switch r.Operator {
			case OpExists:
				m = ok
			case OpDoesNotExist:
				m = !ok
			case OpIn:
				m = ok && slices.Contains(r.Values, v)
			case OpNotIn:
				m = !ok || !slices.Contains(r.Values, v)
			default:
				if valid {
					t.Fatalf("unknown operator %q passed validation", r.Operator)
				}
				m = false
			}
			want = want && m
		}
		if got != want {
			t.Fatalf("Matches(%v) = %v, want %v for %+v", labels, got, want, s)
		}
		if !valid {
			return
		}
		// A valid selector survives a round trip through JSON unchanged in
		// meaning, and always matches the labels it requires.
		b, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		var back LabelSelector
		if err := json.Unmarshal(b, &back); err != nil || back.Validate() != nil || back.Matches(labels) != got {
			t.Fatalf("round trip changed the selector: %s (%v)", b, err)
		}
		if len(s.MatchExpressions) == 0 && !s.Matches(s.MatchLabels) {
			t.Fatalf("selector does not match its own matchLabels: %+v", s)
		}
	})
}
