package raftstore

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// bigState builds n executions directly (no command encoding, to keep the
// set-up short), shaped like real ones: a three-node workflow, a history of
// a few transitions, node statuses.
func bigState(n int) *State {
	s := NewState()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters["c1"] = &v1.Cluster{ClusterSpec: v1.ClusterSpec{Name: "c1", Weight: 1}, State: v1.ClusterReady, Healthy: true}
	for i := 0; i < n; i++ {
		sp := spec(fmt.Sprintf("exec-%07d", i))
		sp.Project = fmt.Sprintf("project-%d", i%20)
		sp.Inputs = map[string]string{"date": "2025-01-01", "shard": fmt.Sprint(i % 64)}
		sp.Workflow.Nodes = append(sp.Workflow.Nodes, v1.TaskNode{ID: "c", Image: "registry.example/train:1.2.3", DependsOn: []string{"b"},
			Resources: v1.Resources{CPU: "2", Memory: "4Gi"}})
		s.seq++
		e := &v1.Execution{ExecutionSpec: sp, SpecHash: sp.Hash(), Phase: v1.PhaseQueued, Attempt: 1, Seq: s.seq, CreatedAt: at, UpdatedAt: at,
			History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted, At: at}}}
		if i%2 == 0 {
			e.Phase, e.Cluster = v1.PhaseSucceeded, "c1"
			e.History = append(e.History,
				v1.PhaseTransition{Phase: v1.PhaseAssigned, Cluster: "c1", Attempt: 1, Reason: v1.ReasonPlaced, At: at},
				v1.PhaseTransition{Phase: v1.PhaseRunning, Cluster: "c1", Attempt: 1, Reason: v1.ReasonAgentReported, At: at},
				v1.PhaseTransition{Phase: v1.PhaseSucceeded, Cluster: "c1", Attempt: 1, Reason: v1.ReasonAgentReported, At: at})
			e.Nodes = map[string]v1.NodeStatus{"a": {Phase: v1.NodeSucceeded, Attempts: 1}, "b": {Phase: v1.NodeSucceeded, Attempts: 1}, "c": {Phase: v1.NodeSucceeded, Attempts: 1, Outputs: map[string]string{"model": "s3://bucket/model"}}}
		}
		k := e.Key().String()
		s.execs[k] = e
		s.indexExecution(k, nil, e)
	}
	return s
}

// BenchmarkSnapshot100k writes and restores a snapshot of 100,000
// executions and reports the time of each; multiply by ten for the
// 1,000,000-execution target (< 10 s each).
func BenchmarkSnapshot100k(b *testing.B) {
	const n = 100_000
	s := bigState(n)
	var buf bytes.Buffer
	if err := mustSnapshot(b, s).write(&buf); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var writeD, restoreD time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := mustSnapshot(b, s).write(io.Discard); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := NewState().restore(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
		writeD += t1.Sub(t0)
		restoreD += time.Since(t1)
	}
	b.ReportMetric(writeD.Seconds()/float64(b.N), "write-s")
	b.ReportMetric(restoreD.Seconds()/float64(b.N), "restore-s")
	b.ReportMetric(float64(buf.Len())/n, "bytes/exec")
}
