package raftstore

import (
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestReadOnlyWalks checks the walks that usage accounting and metrics
// use against a state with executions in every place: queued by tier and
// project, live on two clusters, finished.
func TestReadOnlyWalks(t *testing.T) {
	h := newHarness(t)
	h.applyAll(append(readyCluster("east"), readyCluster("west")...)...)
	mk := func(name, project string, tier v1.Tier) Command {
		s := spec(name)
		s.Project, s.Tier = project, tier
		return submit(s)
	}
	h.applyAll(mk("q1", "p", v1.TierCritical), mk("q2", "p", v1.TierCritical), mk("q3", "ml", v1.TierBestEffort),
		submit(spec("run")), submit(spec("asg")), submit(spec("done")))
	h.must(assign("run", "east", 1))
	h.must(report("run", "east", 1, v1.PhaseRunning))
	h.must(assign("asg", "east", 1))
	h.must(assign("done", "west", 1))
	h.must(report("done", "west", 1, v1.PhaseSucceeded))

	depths := h.s.QueueDepths()
	wantDepths := map[QueueKey]int{{v1.TierCritical, "p"}: 2, {v1.TierBestEffort, "ml"}: 1}
	if len(depths) != len(wantDepths) {
		t.Errorf("QueueDepths = %v, want %v", depths, wantDepths)
	}
	for k, n := range wantDepths {
		if depths[k] != n {
			t.Errorf("QueueDepths[%v] = %d, want %d", k, depths[k], n)
		}
	}

	live := h.s.LiveCounts()
	if live["east"][v1.PhaseRunning] != 1 || live["east"][v1.PhaseAssigned] != 1 || len(live["west"]) != 0 {
		t.Errorf("LiveCounts = %v, want east Running 1 and Assigned 1, nothing live on west", live)
	}

	cases := []struct {
		name string
		f    ExecutionFilter
		stop int
		want []string
	}{
		{"all, by key", ExecutionFilter{}, 0, []string{"q3", "asg", "done", "q1", "q2", "run"}},
		{"project", ExecutionFilter{Project: "ml"}, 0, []string{"q3"}},
		{"cluster, any phase", ExecutionFilter{Cluster: "west"}, 0, []string{"done"}},
		{"cluster and phase", ExecutionFilter{Cluster: "east", Phase: v1.PhaseRunning}, 0, []string{"run"}},
		{"unknown project", ExecutionFilter{Project: "none"}, 0, nil},
		{"stops when told", ExecutionFilter{Project: "p"}, 2, []string{"asg", "done"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			h.s.ForEachExecution(tc.f, func(e *v1.Execution) bool {
				got = append(got, e.Name)
				return tc.stop == 0 || len(got) < tc.stop
			})
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}

	if _, ok := h.s.NodeStatus(key("nope"), "a"); ok {
		t.Error("NodeStatus of an unknown execution found something")
	}
}
