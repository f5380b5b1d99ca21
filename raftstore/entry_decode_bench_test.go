package raftstore

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// readmeSpec is the README's example execution, as test/bench/submit sends
// it.
func readmeSpec(name string) v1.ExecutionSpec {
	return v1.ExecutionSpec{
		Project:         "pricing",
		Domain:          "production",
		Name:            name,
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

// benchEntrySubmissions is how many submissions a group-commit entry
// carries at 128 clients.
const benchEntrySubmissions = 60

// readmeEntry is a log entry of n submissions of the README's spec as the
// leader writes it: rendered straight into the envelope, then packed.
func readmeEntry(tb testing.TB, n int) []byte {
	tb.Helper()
	at := time.Date(2026, 11, 30, 23, 37, 44, 123456789, time.UTC)
	cmds := make([]json.RawMessage, n)
	local := make([]*Command, n)
	for i := range cmds {
		local[i] = &Command{Version: CommandVersion, Type: CmdSubmit, At: at.Add(time.Duration(i) * time.Microsecond),
			Submit: NewSubmitCmd(readmeSpec(fmt.Sprintf("eta-model-bench-%d", i)))}
		if err := checkRenderTime(local[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return packEntry(appendEntryBatch(nil, cmds, local))
}

// BenchmarkDecodeEntry decodes a group-commit entry as a follower does,
// decompression included. A live execution holds the workflow's pooled
// DAG, as the follower's state does.
func BenchmarkDecodeEntry(b *testing.B) {
	entry := readmeEntry(b, benchEntrySubmissions)
	keep, errs, err := decodeLogEntry(1, entry)
	if err != nil || errs != nil {
		b.Fatal(err, errs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := decodeLogEntry(1, entry); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchEntrySubmissions), "ns/submission")
	runtime.KeepAlive(keep)
}

// BenchmarkApplyEntry applies that entry through the FSM to a fresh state.
func BenchmarkApplyEntry(b *testing.B) {
	entry := readmeEntry(b, benchEntrySubmissions)
	holder := NewState()
	if _, ok := holder.applyLog(1, entry).([]Result); !ok {
		b.Fatal("entry refused")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := &fsm{state: NewState(), log: log}
		b.StartTimer()
		res, ok := f.Apply(&raft.Log{Index: 1, Data: entry}).([]Result)
		if !ok || len(res) != benchEntrySubmissions || res[0].Err != nil || !res[0].Created {
			b.Fatalf("apply: %v", res)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchEntrySubmissions), "ns/submission")
	runtime.KeepAlive(holder)
}
