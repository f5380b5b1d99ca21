package federation

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/raftstore"
)

// heartbeater keeps clusters' leases alive through whichever replica answers.
func heartbeater(t *testing.T, rs []*replica, capacity v1.Capacity, names ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, name := range names {
				// Every replica in turn until one answers; a stopped one
				// refuses at once. (Reading r.cancel here would race with
				// replica.stop.)
				for _, r := range rs {
					hctx, done := context.WithTimeout(ctx, time.Second)
					_, err := r.client.Heartbeat(hctx, name, v1.Heartbeat{Capacity: capacity, AgentVersion: "test"})
					done()
					if err == nil {
						break
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func ampleCapacity() v1.Capacity {
	a := v1.Amounts{MilliCPU: 1 << 40, MemoryBytes: 1 << 50, GPU: 0, Pods: 1 << 30}
	return v1.Capacity{Allocatable: a, Free: a}
}

func submitN(t *testing.T, c *client.Client, from, to int) {
	t.Helper()
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, to-from)
	sem := make(chan struct{}, 16)
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			for try := 0; ; try++ {
				_, _, err := c.SubmitExecution(ctx, spec("pricing", fmt.Sprintf("w-%05d", i)))
				if err == nil {
					return
				}
				if !client.IsUnavailable(err) || try > 50 {
					errs <- err
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("submit: %v", err)
	}
}

// TestWeightsHoldAcrossLeaderChange places executions by weights 1:2:7,
// kills the leader half-way, and checks the split and that no execution
// was assigned twice: the scheduler keeps no state of its own.
func TestWeightsHoldAcrossLeaderChange(t *testing.T) {
	rs := startControlPlane(t, 3, nil)
	l := leaderOf(t, rs)
	ctx := ctxT(t)
	weights := map[string]int{"w1": 1, "w2": 2, "w7": 7}
	for name, w := range weights {
		if _, _, err := l.client.RegisterCluster(ctx, v1.ClusterSpec{Name: name, Weight: w}); err != nil {
			t.Fatal(err)
		}
	}
	heartbeater(t, rs, ampleCapacity(), "w1", "w2", "w7")

	const total = 1000
	submitN(t, l.client, 0, total/2)
	waitUntil(t, 20*time.Second, "the first half placed", func() bool {
		return l.node.State().PhaseCounts()[v1.PhaseAssigned] == total/2
	})
	l.stop()
	nl := leaderOf(t, rs)
	submitN(t, nl.client, total/2, total)
	waitUntil(t, 20*time.Second, "every execution placed", func() bool {
		return nl.node.State().PhaseCounts()[v1.PhaseAssigned] == total
	})

	got := map[string]int{}
	all, err := nl.client.ListAllExecutions(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range all {
		assigned := 0
		for _, h := range ex.History {
			if h.Phase == v1.PhaseAssigned {
				assigned++
			}
		}
		if assigned != 1 || ex.Attempt != 1 {
			t.Fatalf("%s assigned %d times, attempt %d: want exactly once", ex.Key(), assigned, ex.Attempt)
		}
		got[ex.Cluster]++
	}
	for name, w := range weights {
		want := float64(total) * float64(w) / 10
		if math.Abs(float64(got[name])-want) > 0.01*total {
			t.Errorf("cluster %s (weight %d) got %d of %d, want %.0f ± 1%%", name, w, got[name], total, want)
		}
	}
}

func TestExplainAndDryRun(t *testing.T) {
	rs := startControlPlane(t, 1, nil)
	c := rs[0].client
	ctx := ctxT(t)
	for _, cs := range []v1.ClusterSpec{
		{Name: "east", Labels: map[string]string{"region": "us-east"}, Weight: 1},
		{Name: "west", Labels: map[string]string{"region": "us-west"}, Weight: 1},
		{Name: "cordoned", Labels: map[string]string{"region": "us-east"}, Weight: 1},
	} {
		if _, _, err := c.RegisterCluster(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	heartbeater(t, rs, ampleCapacity(), "east", "west", "cordoned")
	waitUntil(t, 5*time.Second, "clusters ready", func() bool {
		l, err := c.ListClusters(ctx)
		if err != nil {
			return false
		}
		for _, cl := range l.Items {
			if cl.State != v1.ClusterReady {
				return false
			}
		}
		return true
	})
	if _, err := c.Cordon(ctx, "cordoned"); err != nil {
		t.Fatal(err)
	}
	s := spec("pricing", "explain-me")
	s.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"region": "us-east"}}
	dry, err := c.DryRun(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Chosen != "east" {
		t.Fatalf("dry run chose %q, want east: %+v", dry.Chosen, dry)
	}
	verdicts := map[string]v1.ClusterVerdict{}
	for _, v := range dry.Clusters {
		verdicts[v.Cluster] = v
	}
	if v := verdicts["west"]; v.Feasible || v.Reason == "" {
		t.Fatalf("west should be refused by the selector with a reason: %+v", v)
	}
	if v := verdicts["cordoned"]; v.Feasible || v.Reason == "" {
		t.Fatalf("cordoned should be refused with a reason: %+v", v)
	}
	if _, err := c.GetExecution(ctx, s.Key(), false); !client.IsNotFound(err) {
		t.Fatalf("dry run submitted the execution: %v", err)
	}
	// An execution nobody can take stays queued and explain says why.
	s2 := spec("pricing", "nowhere")
	s2.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"region": "mars"}}
	if _, _, err := c.SubmitExecution(ctx, s2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	ex, err := c.GetExecution(ctx, s2.Key(), false)
	if err != nil || ex.Phase != v1.PhaseQueued {
		t.Fatalf("unplaceable execution: %s %v, want Queued", ex.Phase, err)
	}
	e, err := c.ExplainExecution(ctx, s2.Key())
	if err != nil {
		t.Fatal(err)
	}
	if e.Chosen != "" || e.Summary == "" || len(e.Clusters) != 3 {
		t.Fatalf("explain of a pending execution: %+v", e)
	}
}

// TestRoundCountsAssignmentsInFlight: a round skips the executions whose
// assignments are still being committed and counts their needs against
// their cluster and project, so pipelined rounds never overfill a cluster;
// once the state has them, the state's running sums count them instead.
func TestRoundCountsAssignmentsInFlight(t *testing.T) {
	node := soloLeader(t)
	srv, err := New(testConfig(), node)
	if err != nil {
		t.Fatal(err)
	}
	sc := newScheduler(srv)
	ctx := ctxT(t)
	st := node.State()

	sp := spec("p", "x")
	need := sp.Workflow.PeakResources()
	room := v1.Amounts{MilliCPU: 3 * need.MilliCPU, MemoryBytes: 3 * need.MemoryBytes, Pods: 3 * need.Pods}
	registerReady(t, node, "east")
	applyOK(t, node, raftstore.Command{Type: raftstore.CmdHeartbeat, Name: "east", Heartbeat: &v1.Heartbeat{
		AgentVersion: "test", Capacity: v1.Capacity{Allocatable: room, Free: room}}})
	var keys []v1.ExecutionKey
	for i := range 5 {
		sp := spec("p", fmt.Sprintf("e-%d", i))
		applyOK(t, node, raftstore.Command{Type: raftstore.CmdSubmit, Submit: &raftstore.SubmitCmd{Spec: sp}})
		keys = append(keys, sp.Key())
	}
	// Two assignments in flight: proposed, not yet applied.
	sc.mu.Lock()
	sc.inflight[keys[0]] = inflightAssign{cluster: "east", attempt: 1}
	sc.inflight[keys[1]] = inflightAssign{cluster: "east", attempt: 1}
	sc.mu.Unlock()
	snap := sc.snapshot(st, now())
	two := v1.Amounts{MilliCPU: 2 * need.MilliCPU, MemoryBytes: 2 * need.MemoryBytes, Pods: 2 * need.Pods}
	if c := snap.Clusters[0]; c.Reserved != two || c.Load != 2 {
		t.Fatalf("east with two in flight: reserved %+v load %d, want %+v and 2", c.Reserved, c.Load, two)
	}
	if snap.ProjectUsage["p"] != two || snap.ProjectRunning["p"] != 2 {
		t.Fatalf("project p with two in flight: usage %+v running %d", snap.ProjectUsage["p"], snap.ProjectRunning["p"])
	}

	sc.round(ctx)
	waitCommits(sc)
	assigned := func() (n int) {
		for _, k := range keys {
			if ex, _ := st.Execution(k); ex.Phase == v1.PhaseAssigned {
				n++
			}
		}
		return n
	}
	if n := assigned(); n != 1 {
		t.Fatalf("%d assigned with two in flight and room for three, want 1", n)
	}
	for _, k := range keys[:2] {
		if ex, _ := st.Execution(k); ex.Phase != v1.PhaseQueued {
			t.Fatalf("%s is %s: a round placed an execution whose assignment was in flight", k, ex.Phase)
		}
	}

	// The two "in flight" were never proposed: forgetting them frees their
	// room, and the state's sums now hold the one that was committed.
	sc.mu.Lock()
	clear(sc.inflight)
	sc.mu.Unlock()
	if c := sc.snapshot(st, now()).Clusters[0]; c.Reserved != need || c.Load != 1 {
		t.Fatalf("east with one assigned: reserved %+v load %d, want %+v and 1", c.Reserved, c.Load, need)
	}
	sc.round(ctx)
	waitCommits(sc)
	if n := assigned(); n != 3 {
		t.Fatalf("%d assigned, want 3: the room of the cluster", n)
	}
	if len(sc.inflight) != 0 {
		t.Fatalf("%d assignments still in flight after their commits", len(sc.inflight))
	}
}

func waitCommits(sc *scheduler) { sc.wg.Wait() }
