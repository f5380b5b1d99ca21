package raftstore

import (
	"fmt"
	"sync"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestLargeEntryAppliesWhileReadersRead: an entry of several applyYield
// chunks applies every command in order while readers walk the state
// between its chunks; each reader sees a prefix of the entry (a queue of
// whole submissions, with sums to match), and the race detector sees no
// data race.
func TestLargeEntryAppliesWhileReadersRead(t *testing.T) {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	n := 3*applyYield + 7
	cmds := make([]Command, n)
	for i := range cmds {
		cmds[i] = submit(spec(fmt.Sprintf("e%05d", i)))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad []string
	var mu sync.Mutex
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				queued := 0
				var load PlacementLoad
				h.s.PlacementView(nil, &load, func([]*v1.Cluster, int) bool { return true }, func(*v1.Execution, v1.Amounts) bool {
					queued++
					return true
				})
				if uint64(queued) != load.Seq {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("a reader saw %d queued with Seq %d", queued, load.Seq))
					mu.Unlock()
				}
				h.s.ListExecutions(ExecutionFilter{Phase: v1.PhaseQueued}, 10, "")
			}
		})
	}
	res := h.applyAll(cmds...)
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatal(bad[0])
	}
	if len(res) != n {
		t.Fatalf("%d results for %d commands", len(res), n)
	}
	for i, r := range res {
		if r.Err != nil || !r.Created || r.Execution.Seq != uint64(i+1) {
			t.Fatalf("result %d: %+v, want execution %d created with Seq %d", i, r, i, i+1)
		}
	}
	if got := h.s.QueueLen(); got != n {
		t.Fatalf("%d queued, want %d", got, n)
	}
	checkAggregates(t, h.s)
}
