package federation

import (
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestBreakerWalksAreSpaced: a walk over the Assigned executions is not
// repeated before walkSpacing times its duration has passed; a tick in
// between still keeps the replicated breaker states in step, and the next
// walk catches up with what happened meanwhile.
func TestBreakerWalksAreSpaced(t *testing.T) {
	node := soloLeader(t)
	registerReady(t, node, "east")
	b := newTestBreakers(node, 1, time.Hour)
	keys := placeOn(t, node, "east", "w", 2, time.Now().UTC())

	before := time.Now()
	b.observe(ctxT(t), node.State(), time.Now().UTC())
	if len(b.watched) != 2 {
		t.Fatalf("%d watched after the first walk, want 2", len(b.watched))
	}
	if !b.nextWalk.After(before) {
		t.Fatalf("next walk at %s, want after the walk started (%s)", b.nextWalk, before)
	}

	// Until the next walk is due, a failure to start goes unseen, but the
	// breaker states are still synced every tick.
	b.nextWalk = time.Now().Add(time.Hour)
	reportAs(t, node, "east", keys[0], v1.PhaseFailed)
	b.observe(ctxT(t), node.State(), time.Now().UTC())
	if len(b.watched) != 2 || breakerOf(t, node, "east") != v1.BreakerClosed {
		t.Fatalf("a tick before the next walk: %d watched, breaker %q; want 2 and closed", len(b.watched), breakerOf(t, node, "east"))
	}
	record(b.cbs["east"], errStartFailed) // trip it by hand: one failure opens it
	b.observe(ctxT(t), node.State(), time.Now().UTC())
	if got := breakerOf(t, node, "east"); got != v1.BreakerOpen {
		t.Fatalf("breaker %q after a tick between walks, want the gobreaker's open state committed", got)
	}

	// Once due, the walk sees that the first one left Assigned.
	b.nextWalk = time.Time{}
	b.observe(ctxT(t), node.State(), time.Now().UTC())
	if _, ok := b.watched[keys[0]]; ok || len(b.watched) != 1 {
		t.Fatalf("after the due walk: %d watched, the failed one still among them: %v", len(b.watched), ok)
	}
}
