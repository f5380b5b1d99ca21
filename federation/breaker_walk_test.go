package federation

import (
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// TestBreakerReadsStartsEveryTickAndSpacesTimeoutWalks: how executions
// leave Assigned reaches the breakers on every tick (from the state's start
// feed); the walk over overdue assignments is not repeated before
// walkSpacing times its duration, counts each overdue assignment once, and
// forgets those that left Assigned.
func TestBreakerReadsStartsEveryTickAndSpacesTimeoutWalks(t *testing.T) {
	node := soloLeader(t)
	registerReady(t, node, "east")
	b := newTestBreakers(node, 3, time.Hour) // three failures in a row open it
	placed := time.Now().UTC()
	b.observe(ctxT(t), node.State(), placed) // the first tick starts reading the feed
	keys := placeOn(t, node, "east", "w", 3, placed)
	counts := func() (successes, failures uint32) {
		c := b.cbs["east"].Counts()
		return c.TotalSuccesses, c.TotalFailures
	}

	// A start reaches the breaker on the next tick.
	reportAs(t, node, "east", keys[0], v1.PhaseRunning)
	b.observe(ctxT(t), node.State(), placed)
	if s, f := counts(); s != 1 || f != 0 || len(b.timedOut) != 0 {
		t.Fatalf("after a start: %d successes, %d failures, %d overdue; want 1, 0, 0", s, f, len(b.timedOut))
	}

	// Past the start timeout, the walk counts the two still Assigned, once.
	late := placed.Add(b.startWithin + time.Second)
	b.nextWalk = time.Time{} // the last walk, just now, spaced the next
	before := time.Now()
	b.observe(ctxT(t), node.State(), late)
	if _, f := counts(); f != 2 || len(b.timedOut) != 2 || !b.nextWalk.After(before) {
		t.Fatalf("after the first due walk: %d failures, %d overdue, next walk %s; want 2, 2, after %s", f, len(b.timedOut), b.nextWalk, before)
	}
	b.nextWalk = time.Time{}
	b.observe(ctxT(t), node.State(), late.Add(time.Minute))
	if _, f := counts(); f != 2 || len(b.timedOut) != 2 {
		t.Fatalf("a second walk: %d failures, %d overdue; want the same 2 and 2", f, len(b.timedOut))
	}
	if got := breakerOf(t, node, "east"); got != v1.BreakerClosed {
		t.Fatalf("breaker %q after two failures, want closed", got)
	}

	// Before the next walk is due, a failure to start still reaches the
	// breaker (the third in a row opens it) and its execution is no longer
	// overdue; the walk is not repeated.
	b.nextWalk = time.Now().Add(time.Hour)
	reportAs(t, node, "east", keys[1], v1.PhaseFailed)
	b.observe(ctxT(t), node.State(), late.Add(2*time.Minute))
	if _, ok := b.timedOut[keys[1]]; ok || len(b.timedOut) != 1 {
		t.Fatalf("after a failure between walks: %d overdue, the failed one among them: %v", len(b.timedOut), ok)
	}
	if got := breakerOf(t, node, "east"); got != v1.BreakerOpen {
		t.Fatalf("breaker %q after three failures in a row, want open", got)
	}

	// A requeue is not a start event; the next walk forgets it.
	applyOK(t, node, raftstore.Command{Type: raftstore.CmdRequeue, Requeue: &raftstore.RequeueCmd{Key: keys[2], Attempt: 1, Reason: v1.ReasonClusterLost}})
	b.nextWalk = time.Time{}
	b.observe(ctxT(t), node.State(), late.Add(3*time.Minute))
	if len(b.timedOut) != 0 {
		t.Fatalf("%d overdue after the last one was requeued, want none", len(b.timedOut))
	}
}
