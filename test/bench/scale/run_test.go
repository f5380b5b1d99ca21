package main

import (
	"context"
	"testing"
	"time"
)

// TestRunOneSmall runs one small measurement end to end: a served control
// plane, heartbeating clusters, submissions through admission control, the
// real scheduler placing everything, then retention.
func TestRunOneSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a real Raft node with fsync")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 3000
	res, err := runOne(ctx, n, 20, 500, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Executions != n || res.Rounds == 0 || res.AssignP99Ms <= 0 || res.AssignP50Ms > res.AssignP99Ms || res.SubmitP99Ms <= 0 {
		t.Fatalf("implausible result: %+v", res)
	}
	if res.MaxLag > 2*500 {
		t.Fatalf("placement lag reached %d with a bound of 500 (batches of %d)", res.MaxLag, submitBatch)
	}
	if res.Archived != n {
		t.Fatalf("%d archived after every execution finished, want %d", res.Archived, n)
	}
}

// TestSubmissionsRenderAsTheHandlerDoes: the harness splices the cached
// workflow JSON into each submission as the HTTP front end does, and the
// result must be the spec's own canonical JSON, which the hash and the
// log entry are made of.
func TestSubmissionsRenderAsTheHandlerDoes(t *testing.T) {
	for _, i := range []int{0, 1, 2, 63, 64, 999_999} {
		spec := benchSpec(i)
		if got, want := string(spec.CanonicalWith(benchWorkflowJSON)), string(spec.Canonical()); got != want {
			t.Fatalf("submission %d renders\n%s\nwant\n%s", i, got, want)
		}
	}
}
