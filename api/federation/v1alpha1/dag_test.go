package v1alpha1

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// referenceValidateWorkflow is WorkflowSpec.Validate as it was before the
// DAG checks stopped building maps: a map index, a map per node for
// repeated dependencies, and Ancestors for bindings. The current one must
// give the same verdict and the same message on every workflow.
func referenceValidateWorkflow(w *WorkflowSpec, inputs map[string]string, l Limits) error {
	if len(w.Nodes) == 0 {
		return invalid("workflow: at least one node is required")
	}
	if len(w.Nodes) > l.MaxNodes {
		return invalid("workflow: %d nodes, at most %d", len(w.Nodes), l.MaxNodes)
	}
	index := make(map[string]int, len(w.Nodes))
	for i, n := range w.Nodes {
		if errs := validation.IsDNS1123Label(n.ID); n.ID == "" || len(errs) > 0 {
			return invalid("workflow.nodes[%d]: id %q must be a DNS-1123 label", i, n.ID)
		}
		if _, dup := index[n.ID]; dup {
			return invalid("workflow.nodes[%d]: duplicate id %q", i, n.ID)
		}
		index[n.ID] = i
	}
	for _, n := range w.Nodes {
		if err := referenceValidateNode(&n, index, inputs, l); err != nil {
			return err
		}
	}
	if cycle := referenceFindCycle(w, index); cycle != nil {
		return invalid("workflow: dependency cycle %s", strings.Join(cycle, " -> "))
	}
	anc := w.Ancestors()
	for _, n := range w.Nodes {
		for name, b := range n.Inputs {
			if b.FromNode != "" && !anc[n.ID][b.FromNode] {
				return invalid("node %q: input %q reads node %q, which is not upstream (add it to dependsOn)", n.ID, name, b.FromNode)
			}
		}
	}
	return nil
}

func referenceValidateNode(n *TaskNode, index map[string]int, inputs map[string]string, l Limits) error {
	if n.Image == "" {
		return invalid("node %q: image is required", n.ID)
	}
	if len(n.Command)+len(n.Args) > l.MaxCommandArgs {
		return invalid("node %q: %d command and args, at most %d", n.ID, len(n.Command)+len(n.Args), l.MaxCommandArgs)
	}
	if len(n.DependsOn) > l.MaxDependsOn {
		return invalid("node %q: %d dependencies, at most %d", n.ID, len(n.DependsOn), l.MaxDependsOn)
	}
	seen := map[string]bool{}
	for _, d := range n.DependsOn {
		if _, ok := index[d]; !ok {
			return invalid("node %q: dependsOn %q, which is not a node of the workflow", n.ID, d)
		}
		if d == n.ID {
			return invalid("node %q: depends on itself", n.ID)
		}
		if seen[d] {
			return invalid("node %q: dependsOn %q twice", n.ID, d)
		}
		seen[d] = true
	}
	if _, err := n.Resources.Amounts(); err != nil {
		return invalid("node %q: resources: %v", n.ID, err)
	}
	if n.Retries < 0 || n.Retries > l.MaxRetries {
		return invalid("node %q: retries %d: want 0..%d", n.ID, n.Retries, l.MaxRetries)
	}
	if n.Timeout != "" {
		d, err := time.ParseDuration(n.Timeout)
		if err != nil || d <= 0 {
			return invalid("node %q: timeout %q: want a positive Go duration such as 30m", n.ID, n.Timeout)
		}
	}
	if n.Cache != nil && n.Cache.Version == "" {
		return invalid("node %q: cache.version is required", n.ID)
	}
	for name, b := range n.Inputs {
		set := 0
		if b.FromInput != "" {
			set++
			if _, ok := inputs[b.FromInput]; !ok {
				return invalid("node %q: input %q reads workflow input %q, which is not given", n.ID, name, b.FromInput)
			}
		}
		if b.FromNode != "" {
			set++
			if _, ok := index[b.FromNode]; !ok {
				return invalid("node %q: input %q reads node %q, which is not a node of the workflow", n.ID, name, b.FromNode)
			}
			if b.Output == "" {
				return invalid("node %q: input %q reads node %q without naming an output", n.ID, name, b.FromNode)
			}
		}
		if b.Value != nil {
			set++
		}
		if set != 1 {
			return invalid("node %q: input %q needs exactly one of fromInput, fromNode, value", n.ID, name)
		}
	}
	return nil
}

func referenceFindCycle(w *WorkflowSpec, index map[string]int) []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(w.Nodes))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		color[i] = grey
		stack = append(stack, w.Nodes[i].ID)
		for _, d := range w.Nodes[i].DependsOn {
			j := index[d]
			switch color[j] {
			case grey:
				for k, id := range stack {
					if id == d {
						return append(append([]string{}, stack[k:]...), d)
					}
				}
			case white:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return nil
	}
	for i := range w.Nodes {
		if color[i] == white {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// checkAgainstReference fails t when Validate and the reference disagree
// on w, in verdict or in message, or when a valid workflow's ancestor
// bitsets differ from Ancestors.
func checkAgainstReference(t *testing.T, w *WorkflowSpec, inputs map[string]string, l Limits) {
	t.Helper()
	got, want := w.Validate(inputs, l), referenceValidateWorkflow(w, inputs, l)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Validate = %v, reference %v, for %+v", got, want, w.Nodes)
	}
	if got != nil {
		return
	}
	index := newNodeIndex(w.Nodes)
	for i := range w.Nodes {
		index.add(i)
	}
	walk := newDAGWalk(w.Nodes, &index, nil, nil)
	if c := walk.findCycle(); c != nil {
		t.Fatalf("findCycle = %v on a valid workflow", c)
	}
	anc := newAncestorSets(w.Nodes, &index, walk.order(), nil)
	ref := w.Ancestors()
	for i, n := range w.Nodes {
		for j, m := range w.Nodes {
			if anc.has(i, j) != ref[n.ID][m.ID] {
				t.Fatalf("ancestor sets say %s upstream of %s is %v, Ancestors %v", m.ID, n.ID, anc.has(i, j), ref[n.ID][m.ID])
			}
		}
	}
}

// TestWorkflowValidateMatchesReference covers each message of workflow
// validation, on small workflows (scanned) and large ones (mapped).
func TestWorkflowValidateMatchesReference(t *testing.T) {
	chain := func(n int) WorkflowSpec {
		var w WorkflowSpec
		for i := range n {
			node := TaskNode{ID: fmt.Sprintf("n%d", i), Image: "busybox"}
			if i > 0 {
				node.DependsOn = []string{fmt.Sprintf("n%d", i-1)}
				node.Inputs = map[string]Binding{"x": {FromNode: "n0", Output: "o"}}
			}
			w.Nodes = append(w.Nodes, node)
		}
		return w
	}
	value := "v"
	for _, size := range []int{3, smallDAG, smallDAG + 1, 70, 130} {
		cases := map[string]func(w *WorkflowSpec){
			"valid":          func(*WorkflowSpec) {},
			"bad id":         func(w *WorkflowSpec) { w.Nodes[size-1].ID = "N" },
			"empty id":       func(w *WorkflowSpec) { w.Nodes[1].ID = "" },
			"duplicate id":   func(w *WorkflowSpec) { w.Nodes[size-1].ID = "n0" },
			"no image":       func(w *WorkflowSpec) { w.Nodes[size-1].Image = "" },
			"dangling dep":   func(w *WorkflowSpec) { w.Nodes[size-1].DependsOn = append(w.Nodes[size-1].DependsOn, "zz") },
			"self dep":       func(w *WorkflowSpec) { w.Nodes[1].DependsOn = []string{"n0", "n1"} },
			"repeated dep":   func(w *WorkflowSpec) { w.Nodes[2].DependsOn = []string{"n1", "n0", "n1"} },
			"cycle":          func(w *WorkflowSpec) { w.Nodes[0].DependsOn = []string{fmt.Sprintf("n%d", size-1)} },
			"inner cycle":    func(w *WorkflowSpec) { w.Nodes[1].DependsOn = []string{"n0", "n2"} },
			"not upstream":   func(w *WorkflowSpec) { w.Nodes[1].Inputs = map[string]Binding{"x": {FromNode: "n2", Output: "o"}} },
			"unknown source": func(w *WorkflowSpec) { w.Nodes[1].Inputs = map[string]Binding{"x": {FromNode: "zz", Output: "o"}} },
			"no output":      func(w *WorkflowSpec) { w.Nodes[1].Inputs = map[string]Binding{"x": {FromNode: "n0"}} },
			"two sources":    func(w *WorkflowSpec) { w.Nodes[1].Inputs = map[string]Binding{"x": {FromInput: "a", Value: &value}} },
			"missing input":  func(w *WorkflowSpec) { w.Nodes[1].Inputs = map[string]Binding{"x": {FromInput: "zz"}} },
			"bad cpu":        func(w *WorkflowSpec) { w.Nodes[1].Resources.CPU = "lots" },
			"negative gpu":   func(w *WorkflowSpec) { w.Nodes[1].Resources = Resources{CPU: "1", GPU: "-1"} },
			"bad timeout":    func(w *WorkflowSpec) { w.Nodes[1].Timeout = "0s" },
			"many deps": func(w *WorkflowSpec) {
				w.Nodes[size-1].DependsOn = nil
				for i := range w.Nodes[:size-1] {
					w.Nodes[size-1].DependsOn = append(w.Nodes[size-1].DependsOn, fmt.Sprintf("n%d", i))
				}
			},
			"many deps, one repeated": func(w *WorkflowSpec) {
				w.Nodes[size-1].DependsOn = nil
				for i := range w.Nodes[:size-1] {
					w.Nodes[size-1].DependsOn = append(w.Nodes[size-1].DependsOn, fmt.Sprintf("n%d", i))
				}
				w.Nodes[size-1].DependsOn = append(w.Nodes[size-1].DependsOn, "n1")
			},
		}
		for name, mutate := range cases {
			t.Run(fmt.Sprintf("%d/%s", size, name), func(t *testing.T) {
				w := chain(size)
				mutate(&w)
				checkAgainstReference(t, &w, map[string]string{"a": "1"}, DefaultLimits)
			})
		}
	}
}

// FuzzWorkflowValidateMessages holds Validate to the reference's verdict
// and message on the generated DAGs of FuzzWorkflowValidate.
func FuzzWorkflowValidateMessages(f *testing.F) {
	f.Add([]byte{3, 0, 1, 0, 1, 1})
	f.Add([]byte{2, 1, 1, 1, 0})
	f.Add([]byte{2, 1, 3})
	f.Add([]byte{1, 0xfe})
	f.Add([]byte{1, 0xff})
	f.Add([]byte{3, 0, 0, 1, 0, 0, 0, 0, 2})
	f.Add([]byte{30, 2, 5, 7, 1, 3, 3, 4, 9, 12, 0, 2, 1, 1, 4, 20, 21, 22, 23, 1, 5, 5, 25, 26, 0, 0, 3, 28, 29, 30})
	f.Fuzz(func(t *testing.T, data []byte) {
		w := fuzzWorkflow(data)
		checkAgainstReference(t, &w, nil, DefaultLimits)
	})
}
