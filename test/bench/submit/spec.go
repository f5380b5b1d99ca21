package main

import (
	"encoding/json"
	"fmt"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// benchSpec is the README's example execution with a unique name: run tells
// the benchmark points apart, seq the submissions within one. Both systems
// store exactly the same JSON for the same (run, seq).
func benchSpec(run string, seq uint64) v1.ExecutionSpec {
	return v1.ExecutionSpec{
		Project:         "pricing",
		Domain:          "production",
		Name:            benchName(run, seq),
		Tier:            v1.TierStandard,
		ClusterSelector: &v1.LabelSelector{MatchLabels: map[string]string{"region": "us-east"}},
		Inputs:          map[string]string{"date": "2026-11-24"},
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
			{
				ID: "extract", Image: "python:3.12", Command: []string{"python", "-m", "extract"},
				Resources: v1.Resources{CPU: "500m", Memory: "256Mi"},
				Inputs:    map[string]v1.Binding{"date": {FromInput: "date"}},
			},
			{
				ID: "train", DependsOn: []string{"extract"}, Image: "python:3.12", Command: []string{"python", "-m", "train"},
				Resources: v1.Resources{CPU: "2", Memory: "4Gi"},
				Inputs:    map[string]v1.Binding{"data": {FromNode: "extract", Output: "path"}},
				Retries:   2, Timeout: "30m",
			},
		}},
	}
}

// benchName is the name of submission seq of run.
func benchName(run string, seq uint64) string { return fmt.Sprintf("eta-model-%s-%d", run, seq) }

// specJSON is the request body of one submission and its idempotency key.
func specJSON(run string, seq uint64) (v1.ExecutionKey, []byte, error) {
	spec := benchSpec(run, seq)
	b, err := json.Marshal(spec)
	if err != nil {
		return v1.ExecutionKey{}, nil, fmt.Errorf("encode spec %s: %w", spec.Key(), err)
	}
	return spec.Key(), b, nil
}
