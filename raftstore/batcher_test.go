package raftstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestGroupCommitPacksConcurrentApplies: N concurrent Applies become far
// fewer than N log entries, and each caller still gets its own result.
func TestGroupCommitPacksConcurrentApplies(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	leader := c.leader()
	ctx := testCtx(t, 30*time.Second)
	const n = 1000
	entries0, index0 := leader.batcher.entries.Load(), leader.Raft().LastIndex()

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := spec(fmt.Sprintf("g-%d", i))
			r, err := leader.Apply(ctx, submit(s))
			switch {
			case err != nil:
				errs <- err
			case r.Err != nil || r.Execution == nil || r.Execution.Key() != s.Key() || !r.Created:
				errs <- fmt.Errorf("caller %d got %+v", i, r)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	entries := leader.batcher.entries.Load() - entries0
	logEntries := leader.Raft().LastIndex() - index0
	t.Logf("%d applies in %d log entries", n, entries)
	if entries > n/10 || logEntries > n/10 {
		t.Fatalf("%d applies took %d batches, %d log entries; want at most %d", n, entries, logEntries, n/10)
	}
	if got := leader.State().PhaseCounts()[v1.PhaseQueued]; got != n {
		t.Fatalf("%d queued, want %d", got, n)
	}
}

// TestGroupCommitRespectsMaxBatch: no log entry carries more than MaxBatch
// commands.
func TestGroupCommitRespectsMaxBatch(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	cfg.MaxBatch = 10
	n := openNode(t, cfg)
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	ctx := testCtx(t, 30*time.Second)
	acked := submitN(ctx, n, "m", 300, 100)
	if len(acked) != 300 {
		t.Fatalf("%d of 300", len(acked))
	}
	if e, c := n.batcher.entries.Load(), n.batcher.commands.Load(); e*10 < c {
		t.Fatalf("%d commands in %d entries: over MaxBatch 10", c, e)
	}
}

// TestApplyBatchReturnsResultsInOrder: the commands of one call land in
// order and each result is its own, refusals included.
func TestApplyBatchReturnsResultsInOrder(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	n := openNode(t, cfg)
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	ctx := testCtx(t, 10*time.Second)
	res, err := n.ApplyBatch(ctx, seq(readyCluster("c1"), cmds(
		submit(spec("x")), assign("x", "c1", 1), submit(spec("x")), cancel("nope"), assign("x", "c1", 1),
	)))
	if err != nil {
		t.Fatal(err)
	}
	checks := []func(Result) bool{
		func(r Result) bool { return r.Err == nil && r.Created && r.Cluster.Name == "c1" },
		func(r Result) bool { return r.Err == nil && r.Cluster.State == v1.ClusterReady },
		func(r Result) bool { return r.Err == nil && r.Created && r.Execution.Phase == v1.PhaseQueued },
		func(r Result) bool { return r.Err == nil && r.Execution.Phase == v1.PhaseAssigned },
		func(r Result) bool { return r.Err == nil && !r.Created && r.Execution.Phase == v1.PhaseAssigned },
		func(r Result) bool { return errors.Is(r.Err, ErrNotFound) },
		func(r Result) bool { return errors.Is(r.Err, ErrInvalidTransition) },
	}
	if len(res) != len(checks) {
		t.Fatalf("%d results", len(res))
	}
	for i, ok := range checks {
		if !ok(res[i]) {
			t.Fatalf("result %d: %+v", i, res[i])
		}
	}
	// Results are the caller's own copies.
	res[2].Execution.History[0].Reason = "mutated"
	res[0].Cluster.Labels["zone"] = "mutated"
	if e, _ := n.State().Execution(key("x")); e.History[0].Reason == "mutated" {
		t.Fatal("result shares memory with the state")
	}
	if c, _ := n.State().Cluster("c1"); c.Labels["zone"] == "mutated" {
		t.Fatal("result shares memory with the state")
	}
}

// TestApplyFillsVersionAndTime: the proposer's clock is what the FSM
// records, and a command of another version is refused, not skipped.
func TestApplyFillsVersionAndTime(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	n := openNode(t, cfg)
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	ctx := testCtx(t, 10*time.Second)
	before := time.Now()
	r, err := n.Apply(ctx, submit(spec("x")))
	if err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	if at := r.Execution.CreatedAt; at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
		t.Fatalf("CreatedAt %v", at)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r, _ = n.Apply(ctx, Command{Type: CmdSubmit, At: at, Submit: &SubmitCmd{Spec: spec("y")}})
	if !r.Execution.CreatedAt.Equal(at) {
		t.Fatalf("CreatedAt %v, want the proposer's %v", r.Execution.CreatedAt, at)
	}
	r, err = n.Apply(ctx, Command{Version: 99, Type: CmdSubmit, Submit: &SubmitCmd{Spec: spec("z")}})
	if err != nil || !errors.Is(r.Err, ErrUnknownCommand) {
		t.Fatalf("version 99: %v %v", err, r.Err)
	}
}

func TestApplyHonoursContext(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	n := openNode(t, cfg)
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Apply(ctx, submit(spec("x"))); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want nil or context.Canceled", err)
	}
	// Whatever happened to that proposal, the node keeps working.
	if r, err := n.Apply(testCtx(t, 5*time.Second), submit(spec("y"))); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
}
