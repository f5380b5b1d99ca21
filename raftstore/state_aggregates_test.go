package raftstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// bruteAggregates recomputes the running sums from the executions, the
// slow way: what the scheduler did on every round before they existed.
func bruteAggregates(s *State) (PlacementLoad, map[string]v1.Amounts) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	load := PlacementLoad{Clusters: map[string]ClusterLoad{}, Projects: map[string]ProjectLoad{}, Seq: s.seq}
	needs := map[string]v1.Amounts{}
	for k, e := range s.execs {
		need := e.Workflow.PeakResources()
		if !e.Phase.Terminal() {
			needs[k] = need
		}
		if !e.Phase.OnCluster() {
			continue
		}
		if e.Phase == v1.PhaseAborting {
			c := load.Clusters[e.Cluster]
			c.Aborting++
			load.Clusters[e.Cluster] = c
		}
		p := load.Projects[e.Project]
		p.Usage, p.Running = p.Usage.Add(need), p.Running+1
		load.Projects[e.Project] = p
		c := load.Clusters[e.Cluster]
		c.Live++
		if e.Phase == v1.PhaseAssigned {
			c.Reserved, c.Assigned = c.Reserved.Add(need), c.Assigned+1
		}
		load.Clusters[e.Cluster] = c
	}
	return load, needs
}

// keptNeeds returns the need the table keeps for each execution that is
// not terminal, after checking the table's counts of holders against the
// executions.
func keptNeeds(t *testing.T, s *State) map[string]v1.Amounts {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]v1.Amounts{}
	holders := map[*v1.TaskNode]int{}
	for k, e := range s.execs {
		if e.Phase.Terminal() {
			continue
		}
		d, ok := s.agg.needs[dagKey(e)]
		if !ok {
			t.Fatalf("no need kept for %s", k)
		}
		out[k] = d.need
		holders[dagKey(e)]++
	}
	for dag, d := range s.agg.needs {
		if d.refs != holders[dag] {
			t.Fatalf("need of DAG %p: %d holders counted, %d hold it", dag, d.refs, holders[dag])
		}
	}
	return out
}

func checkAggregates(t *testing.T, s *State) {
	t.Helper()
	wantLoad, wantNeeds := bruteAggregates(s)
	if got := s.PlacementLoad(); !reflect.DeepEqual(got, wantLoad) {
		t.Fatalf("PlacementLoad:\n got %+v\nwant %+v", got, wantLoad)
	}
	if got := s.LastSeq(); got != wantLoad.Seq {
		t.Fatalf("LastSeq %d, want %d", got, wantLoad.Seq)
	}
	wantDepths, wantLive := map[QueueKey]int{}, map[string]map[v1.ExecutionPhase]int{}
	for _, e := range dumpState(s).Execs {
		switch {
		case e.Phase == v1.PhaseQueued:
			wantDepths[QueueKey{Tier: e.Tier, Project: e.Project}]++
		case e.Phase.OnCluster():
			if wantLive[e.Cluster] == nil {
				wantLive[e.Cluster] = map[v1.ExecutionPhase]int{}
			}
			wantLive[e.Cluster][e.Phase]++
		}
	}
	if got := s.QueueDepths(); !reflect.DeepEqual(got, wantDepths) {
		t.Fatalf("QueueDepths:\n got %v\nwant %v", got, wantDepths)
	}
	if got := s.LiveCounts(); !reflect.DeepEqual(got, wantLive) {
		t.Fatalf("LiveCounts:\n got %v\nwant %v", got, wantLive)
	}
	if got := keptNeeds(t, s); !reflect.DeepEqual(got, wantNeeds) {
		t.Fatalf("kept needs: got %d entries, want %d (one per execution that is not terminal)\n got %v\nwant %v", len(got), len(wantNeeds), got, wantNeeds)
	}
}

// sizedSpec is an execution of project p whose peak need depends on size:
// two parallel tasks, then one.
func sizedSpec(p, name string, size int) v1.ExecutionSpec {
	s := specIn(p, name, v1.Tiers[size%3])
	cpu := fmt.Sprintf("%dm", 100*(size+1))
	mem := fmt.Sprintf("%dMi", 64*(size%4+1))
	gpu := ""
	if size%2 == 1 {
		gpu = "1"
	}
	s.Workflow = v1.WorkflowSpec{Nodes: []v1.TaskNode{
		{ID: "a", Image: "busybox", Resources: v1.Resources{CPU: cpu, Memory: mem}},
		{ID: "b", Image: "busybox", Resources: v1.Resources{CPU: cpu, Memory: "32Mi", GPU: gpu}},
		{ID: "c", Image: "busybox", DependsOn: []string{"a", "b"}, Resources: v1.Resources{CPU: "2", Memory: mem}},
	}}
	s.Default()
	return s
}

// randomHistory applies n rounds of random commands: submits, assigns
// (some to clusters that refuse), reports of every phase, requeues,
// cancels, drains, removals and archiving. It checks the sums against the
// brute-force recomputation after every log entry when check is set.
func randomHistory(t *testing.T, h *fsmHarness, seed uint64, n int, check bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	clusters := []string{"c1", "c2", "c3", "c4"}
	for _, c := range clusters {
		h.applyAll(readyCluster(c)...)
	}
	projects := []string{"p", "q", "r"}
	var keys []v1.ExecutionKey
	next := 0
	pick := func() (v1.Execution, bool) {
		if len(keys) == 0 {
			return v1.Execution{}, false
		}
		k := keys[rng.IntN(len(keys))]
		e, ok := h.s.Execution(k)
		return e, ok
	}
	for range n {
		var batch []Command
		for range 1 + rng.IntN(6) {
			switch x := rng.IntN(100); {
			case x < 25:
				p := projects[rng.IntN(len(projects))]
				name := fmt.Sprintf("e%04d", next)
				next++
				batch = append(batch, submit(sizedSpec(p, name, rng.IntN(7))))
				keys = append(keys, v1.ExecutionKey{Project: p, Domain: "d", Name: name})
			case x < 27 && next > 0:
				// A resubmission: idempotent, changes nothing.
				e, ok := pick()
				if ok {
					batch = append(batch, submit(e.ExecutionSpec))
				}
			case x < 50:
				e, ok := pick()
				if ok {
					batch = append(batch, Command{Type: CmdAssign, Assign: &AssignCmd{Key: e.Key(), Cluster: clusters[rng.IntN(len(clusters))], Attempt: e.Attempt}})
				}
			case x < 75:
				e, ok := pick()
				if ok && e.Cluster != "" {
					phase := []v1.ExecutionPhase{v1.PhaseRunning, v1.PhaseRunning, v1.PhaseSucceeded, v1.PhaseFailed, v1.PhaseAborted}[rng.IntN(5)]
					batch = append(batch, Command{Type: CmdReport, Report: &ReportCmd{Cluster: e.Cluster, Report: v1.StatusReport{ExecutionKey: e.Key(), Attempt: e.Attempt, Phase: phase}}})
				}
			case x < 85:
				e, ok := pick()
				if ok {
					batch = append(batch, Command{Type: CmdRequeue, Requeue: &RequeueCmd{Key: e.Key(), Attempt: e.Attempt, Reason: v1.ReasonClusterLost}})
				}
			case x < 93:
				e, ok := pick()
				if ok {
					k := e.Key()
					batch = append(batch, Command{Type: CmdCancel, Key: &k})
				}
			case x < 95:
				c := clusters[rng.IntN(len(clusters))]
				batch = append(batch, named(CmdCordon, c), named(CmdUncordon, c))
			case x < 97:
				// Removal succeeds only on a cluster that runs nothing; it
				// comes back at once.
				c := clusters[rng.IntN(len(clusters))]
				batch = append(batch, named(CmdRemoveCluster, c))
				batch = append(batch, readyCluster(c)...)
			default:
				var done []v1.ExecutionKey
				for _, k := range keys {
					if e, ok := h.s.Execution(k); ok && e.Phase.Terminal() {
						done = append(done, k)
					}
				}
				if len(done) > 0 {
					batch = append(batch, Command{Type: CmdArchive, Archive: &ArchiveCmd{Keys: done}})
				}
			}
		}
		if len(batch) == 0 {
			continue
		}
		h.applyAll(batch...)
		if check {
			checkAggregates(t, h.s)
		}
	}
}

// TestAggregatesMatchBruteForce applies random histories and checks after
// every log entry that the running sums equal a recomputation from the
// executions.
func TestAggregatesMatchBruteForce(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newHarness(t)
			randomHistory(t, h, seed, 300, true)
			load := h.s.PlacementLoad()
			if len(load.Projects) == 0 && len(load.Clusters) == 0 {
				t.Fatal("the history left nothing live: it proves little")
			}
		})
	}
}

// TestAggregatesRebuiltOnRestore restores snapshots through the FSM, into
// an empty state and into one that holds other executions, and checks that
// the sums equal those the original state kept by applying commands.
func TestAggregatesRebuiltOnRestore(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			src := newHarness(t)
			randomHistory(t, src, seed, 200, false)
			wantLoad, wantNeeds := src.s.PlacementLoad(), keptNeeds(t, src.s)
			data := snapshotBytes(t, src.s)

			other := newHarness(t)
			randomHistory(t, other, seed+100, 100, false)
			for name, into := range map[string]*State{"empty": NewState(), "other": other.s} {
				f := &fsm{state: into}
				if err := f.Restore(nopCloser{bytes.NewReader(data)}); err != nil {
					t.Fatal(err)
				}
				if got := into.PlacementLoad(); !reflect.DeepEqual(got, wantLoad) {
					t.Fatalf("into %s state: PlacementLoad after restore\n got %+v\nwant %+v", name, got, wantLoad)
				}
				if got := keptNeeds(t, into); !reflect.DeepEqual(got, wantNeeds) {
					t.Fatalf("into %s state: needs after restore differ: %d entries, want %d", name, len(got), len(wantNeeds))
				}
				checkAggregates(t, into)
				// And the restored state keeps them exact as it goes on.
				h := &fsmHarness{t: t, s: into, idx: src.idx, now: src.now}
				randomHistory(t, h, seed+200, 50, true)
			}
		})
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestPlacementLoadShares walks one execution through its life and checks
// where it counts at each step.
func TestPlacementLoadShares(t *testing.T) {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	s := sizedSpec("p", "x", 1) // peak, dimension by dimension: c's 2 CPU, a+b's GPU
	need := s.Workflow.PeakResources()
	if need.MilliCPU != 2000 || need.GPU != 1 {
		t.Fatalf("test spec's need %+v: want 2000m and 1 GPU", need)
	}
	h.must(submit(s))
	if l := h.s.PlacementLoad(); len(l.Clusters) != 0 || len(l.Projects) != 0 || l.Seq != 1 {
		t.Fatalf("queued: %+v, want nothing held and Seq 1", l)
	}
	walked := 0
	var queued int
	var view PlacementLoad
	clusters := h.s.PlacementView(nil, &view, func(_ []*v1.Cluster, q int) bool { queued = q; return false }, func(*v1.Execution, v1.Amounts) bool { walked++; return true })
	if len(clusters) != 1 || clusters[0].Name != "c1" || walked != 0 || queued != 1 || !reflect.DeepEqual(view, PlacementLoad{Seq: 1}) {
		t.Fatalf("PlacementView without a walk: clusters %v, walked %d of %d queued, load %+v", clusters, walked, queued, view)
	}
	h.s.PlacementView(clusters, &view, func([]*v1.Cluster, int) bool { return true }, func(e *v1.Execution, n v1.Amounts) bool {
		walked++
		if e.Name != "x" || n != need {
			t.Errorf("PlacementView walked %s with need %+v", e.Name, n)
		}
		return true
	})
	if walked != 1 || !reflect.DeepEqual(view, h.s.PlacementLoad()) {
		t.Fatalf("PlacementView walked %d queued executions, want 1; load %+v", walked, view)
	}
	h.must(assign("x", "c1", 1))
	h.must(submit(sizedSpec("q", "y", 2))) // so that the view walks
	h.s.PlacementView(clusters, &view, func([]*v1.Cluster, int) bool { return true }, func(*v1.Execution, v1.Amounts) bool { return true })
	l := h.s.PlacementLoad()
	if !reflect.DeepEqual(view, l) || len(view.Clusters) != 1 {
		t.Fatalf("PlacementView with x assigned: %+v, want %+v", view, l)
	}
	if l.Clusters["c1"] != (ClusterLoad{Live: 1, Assigned: 1, Reserved: need}) || l.Projects["p"] != (ProjectLoad{Usage: need, Running: 1}) {
		t.Fatalf("assigned: %+v", l)
	}
	h.must(report("x", "c1", 1, v1.PhaseRunning))
	l = h.s.PlacementLoad()
	if l.Clusters["c1"] != (ClusterLoad{Live: 1}) || l.Projects["p"] != (ProjectLoad{Usage: need, Running: 1}) {
		t.Fatalf("running: %+v, want no reservation and the project's usage", l)
	}
	h.must(report("x", "c1", 1, v1.PhaseSucceeded))
	if l = h.s.PlacementLoad(); len(l.Clusters) != 0 || len(l.Projects) != 0 {
		t.Fatalf("succeeded: %+v, want nothing held", l)
	}
	if n := len(keptNeeds(t, h.s)); n != 1 {
		t.Fatalf("%d needs kept after x finished, want 1: y's", n)
	}
	// A load filled before is refilled, not added to: x's entries go.
	h.s.PlacementView(clusters, &view, func([]*v1.Cluster, int) bool { return true }, func(*v1.Execution, v1.Amounts) bool { return true })
	if want := h.s.PlacementLoad(); !reflect.DeepEqual(view, want) || len(view.Clusters) != 0 {
		t.Fatalf("PlacementView into a used load: %+v, want %+v", view, want)
	}
}

// Executions of one workflow keep one need between them, counted once per
// execution that is not terminal, and none once all are done.
func TestOneNeedPerWorkflow(t *testing.T) {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	for i := range 100 {
		h.must(submit(spec(fmt.Sprintf("e%d", i))))
	}
	if n := len(h.s.agg.needs); n != 1 {
		t.Fatalf("%d needs kept for 100 executions of one workflow, want 1", n)
	}
	for i := range 100 {
		h.must(cancel(fmt.Sprintf("e%d", i)))
	}
	checkAggregates(t, h.s)
	if n := len(h.s.agg.needs); n != 0 {
		t.Fatalf("%d needs kept after every execution ended, want 0", n)
	}
}
