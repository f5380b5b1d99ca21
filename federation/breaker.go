package federation

import (
	"context"
	"errors"
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
	// cursor is the next start event to read (raftstore.State.StartEvents);
	// a new leader's breakers start from the feed's end.
	cursor    uint64
	cursorSet bool
	// timedOut holds the executions whose start timeout was counted, with
	// the attempt and the walk that last found them still Assigned; it is
	// as large as the number of assignments overdue, not of all Assigned.
	timedOut map[v1.ExecutionKey]overdue
	gen      uint64 // counts timeout walks
	// nextWalk is when the next timeout walk may start: walks are spaced
	// by walkSpacing times the last one's duration.
	nextWalk time.Time
}

// overdue is an assignment whose start timeout was counted.
type overdue struct {
	attempt int
	seen    uint64
}

// walkSpacing spaces the walks over the overdue Assigned executions by
// that many times the last walk's duration, so they take at most about
// 1/walkSpacing of a core however many are overdue. With few, that is
// every tick; with very many, every few seconds: the breakers then learn
// of start timeouts that much later, which their thresholds (consecutive
// failures, a start timeout of minutes) easily absorb.
const walkSpacing = 20

func newBreakerSet(failures uint32, openFor, startWithin time.Duration, apply breakerApplier, onChange func(cluster, from, to string)) *breakerSet {
	return &breakerSet{
		failures:    max(failures, 1),
		openFor:     openFor,
		startWithin: startWithin,
		apply:       apply,
		onChange:    onChange,
		cbs:         map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]{},
		timedOut:    map[v1.ExecutionKey]overdue{},
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
	b.readStarts(st, cbs)
	if start := time.Now(); !start.Before(b.nextWalk) {
		b.walkOverdue(st, at, cbs)
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

// readStarts feeds the breakers the start events applied since the last
// tick, in the order they were applied.
func (b *breakerSet) readStarts(st *raftstore.State, cbs map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]) {
	if !b.cursorSet {
		b.cursor, b.cursorSet = st.StartCursor(), true
		return
	}
	b.cursor, _ = st.StartEvents(b.cursor, func(ev raftstore.StartEvent) {
		delete(b.timedOut, ev.Key)
		cb, ok := cbs[ev.Cluster]
		if !ok {
			return // removed, or registered after the list was read
		}
		if ev.Started {
			record(cb, nil)
		} else {
			record(cb, errStartFailed)
		}
	})
	// Events lost to a reader that fell behind the feed are a breaker's
	// loss of a few samples: its thresholds count in a row, not in total.
}

// walkOverdue counts a start timeout once for every execution that has
// been Assigned longer than startWithin, oldest first.
func (b *breakerSet) walkOverdue(st *raftstore.State, at time.Time, cbs map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]) {
	b.gen++
	st.ForEachAssignedBefore(at.Add(-b.startWithin), func(ex *v1.Execution) bool {
		k := ex.Key()
		if o, ok := b.timedOut[k]; ok && o.attempt == ex.Attempt {
			b.timedOut[k] = overdue{attempt: o.attempt, seen: b.gen}
			return true
		}
		cb, ok := cbs[ex.Cluster]
		if !ok {
			return true // its cluster was registered after the list was read
		}
		b.timedOut[k] = overdue{attempt: ex.Attempt, seen: b.gen}
		record(cb, errStartTimeout)
		return true
	})
	// Those no longer overdue and Assigned left without a start event
	// (requeued, cancelled): forget them.
	for k, o := range b.timedOut {
		if o.seen != b.gen {
			delete(b.timedOut, k)
		}
	}
}
