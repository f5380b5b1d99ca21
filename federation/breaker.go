package federation

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/sony/gobreaker/v2"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// Signals that feed a cluster's circuit breaker. The breaker guards against
// a cluster that takes assignments but cannot run them (a broken admission
// webhook, an apiserver that refuses Workflow objects, a wedged agent
// backend): its lease is fine, so health alone would keep feeding it work.
//
//   - failure: an execution stayed Assigned (never reported Running) for
//     longer than BreakerStartTimeout after it was placed there;
//   - failure: an execution went from Assigned straight to Failed, without a
//     Running report in that attempt: it failed to start;
//   - success: an execution placed there started (reported Running), or
//     finished Succeeded or Failed after it had started (a workflow's own
//     failure says nothing against the cluster).
//
// Requeues, cancels and lost clusters feed nothing: health deals with them.
var (
	errStartTimeout = errors.New("execution not started within the start timeout")
	errStartFailed  = errors.New("execution failed before it started")
)

// tracked is one assignment the breaker set watches until it starts.
type tracked struct {
	key      v1.ExecutionKey
	cluster  string
	attempt  int
	since    time.Time // when it was placed on the cluster
	timedOut bool      // its start timeout has been counted already
	seen     uint64    // the last walk that found it Assigned
}

// breakerApplier commits a breaker state; Server.apply in production.
type breakerApplier func(ctx context.Context, cmd raftstore.Command) (raftstore.Result, error)

// breakerSet holds one gobreaker per cluster on the leader and keeps the
// replicated Breaker field of each cluster equal to its state, so that
// placement (on any replica) and a future leader see it. It is driven from
// the health monitor's tick and holds no goroutine of its own.
//
// A new leader starts with fresh breakers and trips the ones the replicated
// state says are open or half-open, so an open breaker stays open across a
// leader change (its open period starts over, which errs on the safe side).
type breakerSet struct {
	failures    uint32
	openFor     time.Duration
	startWithin time.Duration
	apply       breakerApplier
	onChange    func(cluster, from, to string)

	cbs map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
	// watched is updated in place by every walk over the Assigned
	// executions: no allocation per execution and walk.
	watched map[v1.ExecutionKey]*tracked
	gen     uint64 // counts walks
	// nextWalk is when the next walk may start: walks are spaced by
	// walkSpacing times the last one's duration.
	nextWalk time.Time
}

// walkSpacing spaces the walks over the Assigned executions by that many
// times the last walk's duration, so they take at most about 1/walkSpacing
// of a core however many executions wait to start (a burst leaves many
// Assigned at once). With few, that is every tick; with a million, every
// few seconds: breakers then learn of starts and start timeouts that much
// later, which their thresholds (consecutive failures, a start timeout of
// minutes) easily absorb.
const walkSpacing = 20

func newBreakerSet(failures uint32, openFor, startWithin time.Duration, apply breakerApplier, onChange func(cluster, from, to string)) *breakerSet {
	return &breakerSet{
		failures:    max(failures, 1),
		openFor:     openFor,
		startWithin: startWithin,
		apply:       apply,
		onChange:    onChange,
		cbs:         map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]{},
		watched:     map[v1.ExecutionKey]*tracked{},
	}
}

// breakerState names a gobreaker state as the API does.
func breakerState(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return v1.BreakerOpen
	case gobreaker.StateHalfOpen:
		return v1.BreakerHalfOpen
	default:
		return v1.BreakerClosed
	}
}

// breaker returns the cluster's breaker, created to match the replicated
// state: a breaker the state says is not closed is tripped at once.
func (b *breakerSet) breaker(c *v1.Cluster) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	cb, ok := b.cbs[c.Name]
	if ok {
		return cb
	}
	threshold := b.failures
	cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name: c.Name,
		// One probe at a time while half-open: placement admits one
		// execution there, and its start decides.
		MaxRequests: 1,
		Timeout:     b.openFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= threshold },
	})
	if c.Breaker == v1.BreakerOpen || c.Breaker == v1.BreakerHalfOpen {
		for range threshold {
			record(cb, errStartFailed)
		}
	}
	b.cbs[c.Name] = cb
	return cb
}

// record feeds one outcome. While the breaker is open nothing is counted,
// and while half-open only the first outcome is (gobreaker refuses the
// rest): that one is the probe.
func record(cb *gobreaker.TwoStepCircuitBreaker[struct{}], outcome error) {
	done, err := cb.Allow()
	if err != nil {
		return
	}
	done(outcome)
}

// observe gathers the signals of every cluster's executions at time at,
// feeds them to the breakers, and commits every breaker whose state differs
// from the replicated one.
func (b *breakerSet) observe(ctx context.Context, st *raftstore.State, at time.Time) {
	clusters := st.Clusters()
	cbs := make(map[string]*gobreaker.TwoStepCircuitBreaker[struct{}], len(clusters))
	for i := range clusters {
		cbs[clusters[i].Name] = b.breaker(&clusters[i])
	}
	if start := time.Now(); !start.Before(b.nextWalk) {
		b.walk(st, at, cbs)
		b.nextWalk = time.Now().Add(walkSpacing * time.Since(start))
	}
	for i := range clusters {
		c := &clusters[i]
		cb := b.cbs[c.Name]
		want := breakerState(cb.State())
		if want == c.Breaker {
			continue
		}
		if _, err := b.apply(ctx, raftstore.Command{Type: raftstore.CmdSetBreaker, Name: c.Name, Breaker: want}); err != nil {
			// The next tick tries again: State() is still what it is.
			continue
		}
		if b.onChange != nil {
			b.onChange(c.Name, c.Breaker, want)
		}
	}
	for name := range b.cbs {
		if _, ok := st.Cluster(name); !ok {
			delete(b.cbs, name) // removed
		}
	}
}

// walk feeds the breakers what the Assigned executions tell since the last
// walk: start timeouts, and how those that left Assigned left.
func (b *breakerSet) walk(st *raftstore.State, at time.Time, cbs map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]) {
	b.gen++
	// Only the Assigned executions, and their stored versions, never
	// copied.
	st.ForEachAssigned(func(ex *v1.Execution) bool {
		cb, ok := cbs[ex.Cluster]
		if !ok {
			return true // its cluster was registered after the list was read
		}
		k := ex.Key()
		t := b.watched[k]
		if t == nil || t.attempt != ex.Attempt || t.cluster != ex.Cluster {
			t = &tracked{key: k, cluster: ex.Cluster, attempt: ex.Attempt, since: assignedAt(ex)}
			b.watched[k] = t
		}
		t.seen = b.gen
		if !t.timedOut && at.Sub(t.since) > b.startWithin {
			t.timedOut = true
			record(cb, errStartTimeout)
		}
		return true
	})
	// Watched executions that are no longer Assigned: see how they left,
	// in a fixed order (consecutive counts depend on it).
	var gone []*tracked
	for _, t := range b.watched {
		if t.seen != b.gen {
			gone = append(gone, t)
		}
	}
	slices.SortFunc(gone, func(a, b *tracked) int { return compareKeys(a.key, b.key) })
	for _, t := range gone {
		delete(b.watched, t.key)
		cb, ok := b.cbs[t.cluster]
		if !ok {
			continue
		}
		ex, ok := st.Execution(t.key)
		if !ok || ex.Attempt != t.attempt || ex.Cluster != t.cluster {
			continue // requeued or gone: not the breaker's business
		}
		if counts, failure := startOutcome(&ex); counts {
			record(cb, failure)
		}
	}
}

func compareKeys(a, b v1.ExecutionKey) int {
	return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Name, b.Name))
}

// startOutcome says what an execution that left Assigned tells about its
// cluster: counts is false when it tells nothing (cancelled, aborted);
// otherwise failure is nil for a start and an error for a failure to start.
func startOutcome(ex *v1.Execution) (counts bool, failure error) {
	switch ex.Phase {
	case v1.PhaseRunning, v1.PhaseSucceeded:
		return true, nil
	case v1.PhaseFailed:
		if startedIn(ex, ex.Attempt) {
			return true, nil
		}
		return true, errStartFailed
	}
	return false, nil
}

// startedIn reports whether the execution reported Running in attempt.
func startedIn(ex *v1.Execution, attempt int) bool {
	for _, h := range ex.History {
		if h.Attempt == attempt && h.Phase == v1.PhaseRunning {
			return true
		}
	}
	return false
}

// assignedAt is when the execution was placed for its current attempt.
func assignedAt(ex *v1.Execution) time.Time {
	for i := len(ex.History) - 1; i >= 0; i-- {
		h := ex.History[i]
		if h.Phase == v1.PhaseAssigned && h.Attempt == ex.Attempt {
			return h.At
		}
	}
	return ex.UpdatedAt
}
