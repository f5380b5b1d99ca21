package raftstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func specIn(project, name string, tier v1.Tier) v1.ExecutionSpec {
	s := spec(name)
	s.Project = project
	s.Tier = tier
	return s
}

func TestListExecutionsFiltersAndPages(t *testing.T) {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	var all []Command
	for i := 0; i < 30; i++ {
		project := []string{"p", "q", "r"}[i%3]
		all = append(all, submit(specIn(project, fmt.Sprintf("e%02d", i), v1.TierStandard)))
	}
	h.applyAll(all...)
	// Place the ones of project q with an even number on c1.
	for i := 0; i < 30; i += 6 {
		k := v1.ExecutionKey{Project: "q", Domain: "d", Name: fmt.Sprintf("e%02d", i+1)}
		if r := h.apply(Command{Type: CmdAssign, Assign: &AssignCmd{Key: k, Cluster: "c1", Attempt: 1}}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}

	tests := []struct {
		name   string
		filter ExecutionFilter
		want   int
	}{
		{"everything", ExecutionFilter{}, 30},
		{"one project", ExecutionFilter{Project: "q"}, 10},
		{"one phase", ExecutionFilter{Phase: v1.PhaseAssigned}, 5},
		{"one cluster", ExecutionFilter{Cluster: "c1"}, 5},
		{"project and phase", ExecutionFilter{Project: "q", Phase: v1.PhaseQueued}, 5},
		{"unknown project", ExecutionFilter{Project: "nope"}, 0},
		{"unknown phase", ExecutionFilter{Phase: v1.PhaseFailed}, 0},
		{"domain", ExecutionFilter{Domain: "d"}, 30},
		{"tier", ExecutionFilter{Tier: v1.TierCritical}, 0},
	}
	for _, tc := range tests {
		for _, limit := range []int{0, 1, 4, 100} {
			t.Run(fmt.Sprintf("%s limit %d", tc.name, limit), func(t *testing.T) {
				var got []v1.Execution
				after := ""
				for pages := 0; ; pages++ {
					if pages > 40 {
						t.Fatal("paging does not end")
					}
					items, next := h.s.ListExecutions(tc.filter, limit, after)
					if limit > 0 && len(items) > limit {
						t.Fatalf("page of %d over limit %d", len(items), limit)
					}
					got = append(got, items...)
					if next == "" {
						break
					}
					after = next
				}
				if len(got) != tc.want {
					t.Fatalf("got %d, want %d", len(got), tc.want)
				}
				for i := range got {
					if !tc.filter.matches(&got[i]) {
						t.Fatalf("%s does not match", got[i].Key())
					}
					if i > 0 && got[i-1].Key().String() >= got[i].Key().String() {
						t.Fatalf("out of order: %s then %s", got[i-1].Key(), got[i].Key())
					}
				}
			})
		}
	}
}

func TestQueuedOrdersByTierThenSequence(t *testing.T) {
	h := newHarness(t)
	h.applyAll(
		submit(specIn("p", "a", v1.TierBestEffort)),
		submit(specIn("p", "b", v1.TierStandard)),
		submit(specIn("p", "c", v1.TierCritical)),
		submit(specIn("p", "d", v1.TierStandard)),
		submit(specIn("p", "e", v1.TierCritical)),
	)
	var names []string
	for _, e := range h.s.Queued() {
		names = append(names, e.Name)
	}
	if got, want := fmt.Sprint(names), "[c e b d a]"; got != want {
		t.Fatalf("queue %s, want %s", got, want)
	}
}

func TestReadsReturnCopies(t *testing.T) {
	h := newHarness(t)
	h.applyAll(append(readyCluster("c1"), submit(spec("x")))...)
	e := h.exec("x")
	e.Workflow.Nodes[0].Image = "mutated"
	e.History[0].Reason = "mutated"
	c := h.cluster("c1")
	c.Labels["zone"] = "mutated"
	if h.exec("x").Workflow.Nodes[0].Image == "mutated" || h.exec("x").History[0].Reason == "mutated" || h.cluster("c1").Labels["zone"] == "mutated" {
		t.Fatal("a read shares memory with the state")
	}
}

func TestWaitAssignmentsWakesOnChange(t *testing.T) {
	h := newHarness(t)
	h.applyAll(append(readyCluster("c1"), submit(spec("x")), submit(spec("y")))...)
	rev := h.s.Assignments("c1").Revision

	// Past revision: at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if l, err := h.s.WaitAssignments(ctx, "c1", rev-1); err != nil || l.Revision != rev {
		t.Fatalf("got %+v %v", l, err)
	}

	// Current revision: waits until an assignment lands.
	got := make(chan v1.AssignmentList, 1)
	go func() {
		l, _ := h.s.WaitAssignments(ctx, "c1", rev)
		got <- l
	}()
	select {
	case l := <-got:
		t.Fatalf("returned before any change: %+v", l)
	case <-time.After(50 * time.Millisecond):
	}
	h.must(assign("x", "c1", 1))
	select {
	case l := <-got:
		if l.Revision <= rev || len(l.Items) != 1 {
			t.Fatalf("got %+v", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not woken")
	}

	// A change on another cluster does not wake it; the end of ctx
	// returns the current list with ctx's error.
	rev = h.s.Assignments("c1").Revision
	short, cancelShort := context.WithCancel(context.Background())
	type answer struct {
		l   v1.AssignmentList
		err error
	}
	done := make(chan answer, 1)
	go func() {
		l, err := h.s.WaitAssignments(short, "c1", rev)
		done <- answer{l, err}
	}()
	h.applyAll(readyCluster("c2")...)
	h.must(assign("y", "c2", 1))
	select {
	case a := <-done:
		t.Fatalf("woken by another cluster's change: %+v", a)
	case <-time.After(50 * time.Millisecond):
	}
	cancelShort()
	a := <-done
	if a.err == nil || a.l.Revision != rev || len(a.l.Items) != 1 {
		t.Fatalf("got %+v %v, want ctx error at revision %d", a.l, a.err, rev)
	}
}

func TestChangedTicksAndUnsubscribes(t *testing.T) {
	h := newHarness(t)
	ch, unsubscribe := h.s.Changed()
	h.must(register("c1"))
	select {
	case <-ch:
	default:
		t.Fatal("no tick after a change")
	}
	h.must(heartbeat("c1"))
	h.must(heartbeat("c1")) // coalesced into the one slot
	<-ch
	select {
	case <-ch:
		t.Fatal("ticks not coalesced")
	default:
	}
	// A refused command changes nothing and does not tick.
	h.apply(named(CmdCordon, "nope"))
	select {
	case <-ch:
		t.Fatal("tick without a change")
	default:
	}
	unsubscribe()
	unsubscribe()
	h.must(submit(spec("x")))
	select {
	case <-ch:
		t.Fatal("tick after unsubscribe")
	default:
	}
}

func TestPhaseCounts(t *testing.T) {
	h := newHarness(t)
	h.applyAll(seq(readyCluster("c1"), cmds(submit(spec("x")), submit(spec("y")), assign("x", "c1", 1)))...)
	pc := h.s.PhaseCounts()
	if pc[v1.PhaseQueued] != 1 || pc[v1.PhaseAssigned] != 1 || len(pc) != len(v1.ExecutionPhases) {
		t.Fatalf("%v", pc)
	}
}

// A project's executions are a range of the key index: listing one project
// pages through exactly its keys, never those of a project whose name it
// prefixes ("a" and "a-b", "ab") or sorts next to.
func TestListByProjectIsExactlyItsRange(t *testing.T) {
	h := newHarness(t)
	var cmds []Command
	for _, p := range []string{"a", "a-b", "ab", "a0", "b"} {
		for i := range 5 {
			cmds = append(cmds, submit(specIn(p, fmt.Sprintf("e%d", i), v1.TierStandard)))
		}
	}
	h.applyAll(cmds...)
	for _, p := range []string{"a", "a-b", "ab", "a0", "b"} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			items, next := h.s.ListExecutions(ExecutionFilter{Project: p}, 2, after)
			for _, e := range items {
				got = append(got, e.Key().String())
			}
			if next == "" {
				break
			}
			if pages > 5 {
				t.Fatalf("project %s: paging does not end", p)
			}
			after = next
		}
		var want []string
		for i := range 5 {
			want = append(want, fmt.Sprintf("%s/d/e%d", p, i))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("project %s: listed %v, want %v", p, got, want)
		}
		n := 0
		h.s.ForEachExecution(ExecutionFilter{Project: p}, func(*v1.Execution) bool { n++; return true })
		if n != 5 {
			t.Fatalf("project %s: ForEachExecution visited %d, want 5", p, n)
		}
	}
}
