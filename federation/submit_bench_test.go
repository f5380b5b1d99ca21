package federation

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// readmeSpec is the README's example execution as test/bench/submit sends
// it (json.Marshal of the spec, not yet defaulted).
func readmeSpec(name string) v1.ExecutionSpec {
	return v1.ExecutionSpec{
		Project: "pricing", Domain: "production", Name: name, Tier: v1.TierStandard,
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

// benchWriter is a ResponseWriter that keeps nothing but its header map.
type benchWriter struct {
	h http.Header
	n int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(int)             {}
func (w *benchWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// createdExecution is the execution the FSM creates for sub (applySubmit).
func createdExecution(sub *raftstore.SubmitCmd, at time.Time, seq uint64) *v1.Execution {
	return &v1.Execution{
		ExecutionSpec: sub.Spec, SpecHash: sub.Hash, Phase: v1.PhaseQueued, Attempt: 1,
		Reason: v1.ReasonSubmitted, CreatedAt: at, UpdatedAt: at, Seq: seq,
		History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted, At: at}},
	}
}

// BenchmarkSubmitCPU is the leader's CPU of one submission outside Raft:
// decoding, defaulting and validating the body, rendering the command and
// answering with the new execution, for the README's example with a new
// name each time (what test/bench/submit sends).
//
//	go test -run '^$' -bench SubmitCPU -benchmem -count 5 ./federation/
func BenchmarkSubmitCPU(b *testing.B) {
	s := &Server{cfg: DefaultConfig()}
	tmpl, err := json.Marshal(readmeSpec("eta-model-bench-@"))
	if err != nil {
		b.Fatal(err)
	}
	at := bytes.IndexByte(tmpl, '@')
	prefix, suffix := tmpl[:at], tmpl[at+1:]
	now := time.Date(2026, 11, 30, 23, 0, 0, 123456789, time.UTC)
	w := &benchWriter{h: http.Header{}}
	body := make([]byte, 0, len(tmpl)+20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		body = append(strconv.AppendInt(append(body[:0], prefix...), int64(i), 10), suffix...)
		r := &http.Request{Method: http.MethodPost, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		spec, workflow, err := s.decodeSubmission(w, r)
		if err != nil {
			b.Fatal(err)
		}
		sub := newSubmitCmd(spec, workflow)
		clear(w.h)
		writeSubmitted(w, http.StatusCreated, sub.Canonical(), createdExecution(sub, now.Add(time.Duration(i)), uint64(i)))
	}
}
