package main

import (
	"context"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// These tests run a real control plane (Raft on loopback, the HTTP API) and
// real agent sessions over HTTP, with simulated member clusters whose node
// runs stand for pods.

func newRig(t *testing.T, taskDuration time.Duration, members ...string) *federationRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := startRig(ctx, rigOptions{dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	for _, m := range members {
		if err := r.addMember(ctx, m, rigOptions{taskDuration: taskDuration}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func submitAndWait(t *testing.T, r *federationRig, specs ...v1.ExecutionSpec) map[v1.ExecutionKey]v1.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := make([]v1.ExecutionKey, len(specs))
	for i, s := range specs {
		if _, _, err := r.client.SubmitExecution(ctx, s); err != nil {
			t.Fatalf("submit %s: %v", s.Name, err)
		}
		keys[i] = s.Key()
	}
	out, err := r.waitTerminal(ctx, keys, 45*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for k, e := range out {
		if e.Phase != v1.PhaseSucceeded {
			t.Fatalf("execution %s: %s (%s)", k, e.Phase, e.Message)
		}
	}
	return out
}

func memberRuns(r *federationRig, name string) (runs, hits int) {
	return r.members[name].backend.NodeRuns()
}

// TestCacheHitOnAnotherCluster: an execution run on east fills the
// federation-wide cache; the same inputs on west run no pod; another input
// or another cache version runs every node again.
func TestCacheHitOnAnotherCluster(t *testing.T) {
	r := newRig(t, 30*time.Millisecond, "east", "west")
	first := submitAndWait(t, r, execution("first", "shard-1", "v3", "east"))[v1.ExecutionKey{Project: "etl", Domain: "production", Name: "first"}]
	if runs, _ := memberRuns(r, "east"); runs != 5 {
		t.Fatalf("east ran %d pods, want 5", runs)
	}
	waitEntries(t, r, 5)

	tests := []struct {
		name       string
		spec       v1.ExecutionSpec
		runs, hits int
	}{
		{"same inputs on west", execution("again", "shard-1", "v3", "west"), 0, 5},
		{"another input", execution("other-shard", "shard-2", "v3", "west"), 5, 0},
		{"another cache version", execution("new-version", "shard-1", "v4", "west"), 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs0, hits0 := memberRuns(r, "west")
			got := submitAndWait(t, r, tc.spec)[tc.spec.Key()]
			runs, hits := memberRuns(r, "west")
			if runs-runs0 != tc.runs || hits-hits0 != tc.hits {
				t.Fatalf("west: %d pods, %d cache hits; want %d, %d", runs-runs0, hits-hits0, tc.runs, tc.hits)
			}
			if tc.hits > 0 {
				for id, n := range got.Nodes {
					if !n.Cached || n.Outputs[("path")] != first.Nodes[id].Outputs["path"] {
						t.Errorf("node %s: cached=%v outputs %v, want east's %v", id, n.Cached, n.Outputs, first.Nodes[id].Outputs)
					}
				}
				if got.Outputs["publish.path"] != first.Outputs["publish.path"] {
					t.Errorf("outputs %v, want east's %v", got.Outputs, first.Outputs)
				}
			}
		})
	}
}

// TestConcurrentRunsOfOneKeyStartOnePod: two executions with the same
// inputs, started at once on two clusters, run each node once between them.
func TestConcurrentRunsOfOneKeyStartOnePod(t *testing.T) {
	r := newRig(t, 400*time.Millisecond, "east", "west")
	var wg sync.WaitGroup
	for _, s := range []v1.ExecutionSpec{execution("on-east", "shard-9", "v1", "east"), execution("on-west", "shard-9", "v1", "west")} {
		wg.Go(func() { submitAndWait(t, r, s) })
	}
	wg.Wait()
	runs, hits := r.runs()
	if runs != 5 || hits != 5 {
		t.Fatalf("%d pods and %d cache hits between both clusters; want 5 and 5", runs, hits)
	}
}

// TestRequeuedExecutionRunsOnlyWhatWasLeft: an execution whose first node
// succeeded on east before east was drained resumes on west without running
// that node again.
func TestRequeuedExecutionRunsOnlyWhatWasLeft(t *testing.T) {
	r := newRig(t, 700*time.Millisecond, "east")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Not cached: resuming must not depend on the cache.
	spec := execution("resumed", "shard-1", "", "")
	spec.Workflow.Nodes = spec.Workflow.Nodes[:3] // prep → {left, right}
	if _, _, err := r.client.SubmitExecution(ctx, spec); err != nil {
		t.Fatal(err)
	}
	for {
		e, err := r.client.GetExecution(ctx, spec.Key(), false)
		if err != nil {
			t.Fatal(err)
		}
		if e.Nodes["prep"].Phase == v1.NodeSucceeded {
			break
		}
		if ctx.Err() != nil || e.Phase.Terminal() {
			t.Fatalf("prep never reported succeeded: %s %v", e.Phase, e.Nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.addMember(ctx, "west", rigOptions{taskDuration: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.Drain(ctx, "east", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e := submitAndWait(t, r, spec)[spec.Key()]
	if e.Cluster != "west" || e.Attempt != 2 {
		t.Fatalf("finished on %s at attempt %d, want west at 2", e.Cluster, e.Attempt)
	}
	if runs, _ := memberRuns(r, "west"); runs != 2 {
		t.Fatalf("west ran %d pods, want 2 (left, right; prep resumed)", runs)
	}
	if eastRuns, _ := memberRuns(r, "east"); eastRuns < 1 {
		t.Fatalf("east ran %d pods", eastRuns)
	}
}

func waitEntries(t *testing.T, r *federationRig, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		list, err := r.client.ListCache(ctx, "etl")
		cancel()
		if err == nil && len(list.Items) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache holds %d entries (err %v), want %d", len(list.Items), err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
