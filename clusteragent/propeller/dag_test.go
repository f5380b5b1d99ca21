package propeller

import (
	"maps"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
)

func TestValidateDAG(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []wfv1.TaskNode
		want  string
	}{
		{"diamond", []wfv1.TaskNode{node("a"), node("b", "a"), node("c", "a"), node("d", "b", "c")}, ""},
		{"unknown dependency", []wfv1.TaskNode{node("a", "x")}, "unknown node"},
		{"cycle", []wfv1.TaskNode{node("a", "c"), node("b", "a"), node("c", "b")}, "cycle"},
		{"duplicate", []wfv1.TaskNode{node("a"), node("a")}, "duplicate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateDAG(workflow("w", tc.nodes...))
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("validateDAG = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestResolveInputs(t *testing.T) {
	wf := workflow("w")
	wf.Spec.Inputs = map[string]string{"in": "I"}
	done := map[string]wfv1.NodeStatus{
		"up":      {Phase: wfv1.NodeSucceeded, Outputs: map[string]string{"o": "O"}},
		"running": {Phase: wfv1.NodeRunning},
	}
	for _, tc := range []struct {
		name    string
		inputs  map[string]wfv1.Binding
		want    map[string]string
		wantErr string
	}{
		{"all sources", map[string]wfv1.Binding{"a": {FromInput: "in"}, "b": {FromNode: "up", Output: "o"}, "c": {Value: ptr.To("V")}}, map[string]string{"a": "I", "b": "O", "c": "V"}, ""},
		{"missing output", map[string]wfv1.Binding{"b": {FromNode: "up", Output: "nope"}}, nil, "no output"},
		{"upstream not done", map[string]wfv1.Binding{"b": {FromNode: "running", Output: "o"}}, nil, "not succeeded"},
		{"missing workflow input", map[string]wfv1.Binding{"a": {FromInput: "nope"}}, nil, "not given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := node("n")
			n.Inputs = tc.inputs
			got, err := resolveInputs(wf, &n, done)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestLeafOutputs(t *testing.T) {
	wf := workflow("w", node("a"), node("b", "a"), node("c", "a"))
	got := leafOutputs(wf, map[string]wfv1.NodeStatus{
		"a": {Outputs: map[string]string{"x": "1"}},
		"b": {Outputs: map[string]string{"y": "2"}},
		"c": {Outputs: map[string]string{"z": "3"}},
	})
	if want := map[string]string{"b.y": "2", "c.z": "3"}; !maps.Equal(got, want) {
		t.Errorf("leafOutputs = %v, want %v", got, want)
	}
}
