package v1alpha1

import "testing"

// benchValidateSpec is the submit benchmark's spec (test/bench/submit/spec.go)
// with a third node that fans in from both, so the DAG checks see a join.
func benchValidateSpec() ExecutionSpec {
	s := ExecutionSpec{
		Project:         "pricing",
		Domain:          "production",
		Name:            "eta-model-run1-12345",
		Tier:            TierStandard,
		ClusterSelector: &LabelSelector{MatchLabels: map[string]string{"region": "us-east"}},
		Inputs:          map[string]string{"date": "2026-11-24"},
		Workflow: WorkflowSpec{Nodes: []TaskNode{
			{
				ID: "extract", Image: "python:3.12", Command: []string{"python", "-m", "extract"},
				Resources: Resources{CPU: "500m", Memory: "256Mi"},
				Inputs:    map[string]Binding{"date": {FromInput: "date"}},
			},
			{
				ID: "train", DependsOn: []string{"extract"}, Image: "python:3.12", Command: []string{"python", "-m", "train"},
				Resources: Resources{CPU: "2", Memory: "4Gi"},
				Inputs:    map[string]Binding{"data": {FromNode: "extract", Output: "path"}},
				Retries:   2, Timeout: "30m",
			},
			{
				ID: "evaluate", DependsOn: []string{"extract", "train"}, Image: "python:3.12", Command: []string{"python", "-m", "evaluate"},
				Resources: Resources{CPU: "1", Memory: "1Gi", GPU: "1"},
				Inputs: map[string]Binding{
					"model": {FromNode: "train", Output: "model"},
					"data":  {FromNode: "extract", Output: "path"},
				},
			},
		}},
	}
	s.Default()
	return s
}

// BenchmarkValidate measures the validation every submission pays on the
// leader.
func BenchmarkValidate(b *testing.B) {
	s := benchValidateSpec()
	if err := s.Validate(DefaultLimits); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}
