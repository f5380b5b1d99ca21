package raftstore

import (
	"reflect"
	"runtime"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func poolNode() v1.TaskNode {
	val := "v"
	return v1.TaskNode{
		ID: "train", DependsOn: []string{"extract"}, Image: "python:3.12",
		Command: []string{"python", "-m", "train"}, Args: []string{"--epochs", "3"},
		Env:       map[string]string{"MODE": "fast"},
		Resources: v1.Resources{CPU: "2", Memory: "4Gi", GPU: "1"},
		Inputs: map[string]v1.Binding{
			"data": {FromNode: "extract", Output: "path"},
			"lit":  {Value: &val},
		},
		Retries: 2, Timeout: "30m", Cache: &v1.CacheSpec{Version: "1"},
	}
}

// TestSpecPoolCoversEveryField guards dagEqual, hashDAG and internDAG: a
// field added to TaskNode that they ignore would make two different DAGs
// share one copy.
func TestSpecPoolCoversEveryField(t *testing.T) {
	if n := reflect.TypeFor[v1.TaskNode]().NumField(); n != 11 {
		t.Fatalf("TaskNode has %d fields, the pool knows 11: teach dagEqual, hashDAG and internDAG the new one", n)
	}
	if n := reflect.TypeFor[v1.LabelSelector]().NumField(); n != 2 {
		t.Fatalf("LabelSelector has %d fields, the pool knows 2", n)
	}
}

func TestDAGEqualSeesEveryField(t *testing.T) {
	other := "w"
	cases := map[string]func(n *v1.TaskNode){
		"id":        func(n *v1.TaskNode) { n.ID = "x" },
		"dependsOn": func(n *v1.TaskNode) { n.DependsOn = []string{"other"} },
		"image":     func(n *v1.TaskNode) { n.Image = "python:3.13" },
		"command":   func(n *v1.TaskNode) { n.Command = []string{"python", "-m", "eval"} },
		"args":      func(n *v1.TaskNode) { n.Args = nil },
		"env":       func(n *v1.TaskNode) { n.Env = map[string]string{"MODE": "slow"} },
		"cpu":       func(n *v1.TaskNode) { n.Resources.CPU = "3" },
		"memory":    func(n *v1.TaskNode) { n.Resources.Memory = "8Gi" },
		"gpu":       func(n *v1.TaskNode) { n.Resources.GPU = "" },
		"input":     func(n *v1.TaskNode) { n.Inputs["data"] = v1.Binding{FromNode: "extract", Output: "other"} },
		"input key": func(n *v1.TaskNode) { n.Inputs["data2"] = n.Inputs["data"]; delete(n.Inputs, "data") },
		"value":     func(n *v1.TaskNode) { n.Inputs["lit"] = v1.Binding{Value: &other} },
		"value nil": func(n *v1.TaskNode) { n.Inputs["lit"] = v1.Binding{} },
		"retries":   func(n *v1.TaskNode) { n.Retries = 3 },
		"timeout":   func(n *v1.TaskNode) { n.Timeout = "1h" },
		"cache":     func(n *v1.TaskNode) { n.Cache = &v1.CacheSpec{Version: "2"} },
		"cache off": func(n *v1.TaskNode) { n.Cache = nil },
		"split args": func(n *v1.TaskNode) {
			n.Command = []string{"python", "-m"}
			n.Args = []string{"train", "--epochs", "3"}
		},
	}
	p := newSpecPool()
	base := []v1.TaskNode{poolNode()}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			n := poolNode()
			change(&n)
			changed := []v1.TaskNode{n}
			if dagEqual(base, changed) {
				t.Error("dagEqual: equal, want different")
			}
			if p.hashDAG(base) == p.hashDAG(changed) {
				t.Error("hashDAG: same hash")
			}
		})
	}
	if !dagEqual(base, []v1.TaskNode{poolNode()}) || p.hashDAG(base) != p.hashDAG([]v1.TaskNode{poolNode()}) {
		t.Error("equal DAGs compare or hash different")
	}
	empty, unset := poolNode(), poolNode()
	empty.Env, unset.Env = map[string]string{}, nil
	if !dagEqual([]v1.TaskNode{empty}, []v1.TaskNode{unset}) || p.hashDAG([]v1.TaskNode{empty}) != p.hashDAG([]v1.TaskNode{unset}) {
		t.Error("an empty and a nil map differ: the canonical form omits both")
	}
}

func TestShareSpecSharesEqualParts(t *testing.T) {
	spec := func(name, image string) v1.ExecutionSpec {
		n := poolNode()
		n.Image = image
		return v1.ExecutionSpec{
			Project: "pricing", Domain: "production", Name: name, Tier: v1.TierStandard,
			ClusterSelector: &v1.LabelSelector{MatchLabels: map[string]string{"region": "us-east"}},
			Inputs:          map[string]string{"date": name},
			Workflow:        v1.WorkflowSpec{Nodes: []v1.TaskNode{n}},
		}
	}
	a, b, c := spec("a", "python:3.12"), spec("b", "python:3.12"), spec("c", "python:3.13")
	want := spec("b", "python:3.12")
	for _, s := range []*v1.ExecutionSpec{&a, &b, &c} {
		shareSpec(s)
	}
	if &a.Workflow.Nodes[0] != &b.Workflow.Nodes[0] {
		t.Error("equal DAGs are not shared")
	}
	if &a.Workflow.Nodes[0] == &c.Workflow.Nodes[0] {
		t.Error("different DAGs are shared")
	}
	if a.ClusterSelector != b.ClusterSelector || a.ClusterSelector != c.ClusterSelector {
		t.Error("equal selectors are not shared")
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("sharing changed the spec:\n got %+v\nwant %+v", b, want)
	}
}

func TestSpecPoolForgetsUnusedDAGs(t *testing.T) {
	p := newSpecPool()
	// The only holder of the pooled DAG goes out of scope with the func.
	h := func() uint64 { return p.hashDAG(p.dag([]v1.TaskNode{poolNode()}, false)) }()
	runtime.GC()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.dags[h] {
		if d.first.Value() != nil {
			t.Error("a DAG no execution holds is still alive in the pool")
		}
	}
}
