package federation

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestSplicedExecutionIsTheExecution(t *testing.T) {
	if got, want := reflect.TypeFor[executionStatus]().NumField(), reflect.TypeFor[v1.Execution]().NumField()-1; got != want {
		t.Fatalf("executionStatus has %d fields, v1.Execution %d besides its spec: add the new one", got, want)
	}
	at := time.Date(2026, 11, 30, 16, 0, 0, 123456789, time.UTC)
	spec := v1.ExecutionSpec{
		Project: "pricing", Domain: "production", Name: "eta-<model>&1", Tier: v1.TierStandard,
		ClusterSelector: &v1.LabelSelector{MatchLabels: map[string]string{"region": "us-east", "a": "b"}},
		Inputs:          map[string]string{"date": "2026-11-24", "q": "\"quoted\" \u2028"},
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{{
			ID: "extract", Image: "python:3.12", Command: []string{"python", "-m", "extract"},
			Resources: v1.Resources{CPU: "500m", Memory: "256Mi"},
			Inputs:    map[string]v1.Binding{"date": {FromInput: "date"}},
		}}},
	}
	spec.Default()
	cases := map[string]v1.Execution{
		"new": {
			ExecutionSpec: spec, SpecHash: spec.Hash(), Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted,
			CreatedAt: at, UpdatedAt: at, Seq: 42,
			History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted, At: at}},
		},
		"everything set": {
			ExecutionSpec: spec, SpecHash: spec.Hash(), Phase: v1.PhaseRunning, Cluster: "east-1", Attempt: 2,
			Message: "<b>", Reason: "Started", CreatedAt: at, UpdatedAt: at.Add(time.Second), Seq: 1 << 60,
			History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, At: at}, {Phase: v1.PhaseRunning, Cluster: "east-1", At: at}},
			Nodes:   map[string]v1.NodeStatus{"extract": {Phase: v1.NodeSucceeded, Outputs: map[string]string{"path": "s3://x"}}},
			Outputs: map[string]string{"path": "s3://x"},
		},
		"zero status": {ExecutionSpec: spec},
	}
	for name, ex := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(&ex)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := spliceExecution(spec.Canonical(), &ex)
			if !ok {
				t.Fatal("not spliced")
			}
			if string(got) != string(want)+"\n" {
				t.Errorf("spliced:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if _, ok := spliceExecution([]byte("null"), &v1.Execution{}); ok {
		t.Error("spliced onto something that is not an object")
	}
}
