package clusteragent

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// assignmentLoop long-polls the assignment list and applies every new
// revision to the backend. A revision is only taken as applied when the
// sync fully succeeded, so that a failed Start is retried by the next poll,
// which then answers at once.
func (a *Agent) assignmentLoop(ctx context.Context) {
	bo := newBackoff(a.cfg.BackoffBase, a.cfg.BackoffMax)
	var after uint64
	applied := false
	for ctx.Err() == nil {
		if a.resync.Swap(false) {
			after, applied = 0, false
		}
		list, err := call(ctx, a, a.assignBreaker, a.cfg.LongPollWait+a.cfg.CallTimeout, func(ctx context.Context) (v1.AssignmentList, error) {
			return a.cp.Assignments(ctx, a.cfg.Cluster, after, a.cfg.LongPollWait)
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("poll assignments failed", "err", err)
			sleep(ctx, bo.next(err))
			continue
		}
		// A long poll that timed out answers the revision asked about:
		// nothing to do. A lower revision means the control plane's
		// counter started over (a restore); its list is the truth then.
		if applied && list.Revision == after {
			bo.reset()
			continue
		}
		if err := a.sync(ctx, list); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("apply assignments failed; retrying", "revision", list.Revision, "err", err)
			sleep(ctx, bo.next(err))
			continue
		}
		after, applied = list.Revision, true
		bo.reset()
	}
}

// sync makes the backend hold exactly the listed executions: it starts the
// assignments it lacks, aborts those being cancelled, and aborts and deletes
// the copies that are no longer assigned here or belong to another attempt.
// It is idempotent: applying a list twice changes nothing the second time.
func (a *Agent) sync(ctx context.Context, list v1.AssignmentList) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	held, err := a.backend.List(ctx)
	if err != nil {
		a.m.sessionErrors.WithLabelValues(callBackend).Inc()
		return fmt.Errorf("list workflows: %w", err)
	}
	want := make(map[wfID]v1.Assignment, len(list.Items))
	for _, as := range list.Items {
		want[wfID{as.Key(), as.Attempt}] = as
	}
	for id := range a.tombstones {
		if _, ok := want[id]; !ok {
			delete(a.tombstones, id) // the control plane has seen the verdict
		}
	}
	var errs []error
	have := make(map[wfID]bool, len(held))
	var drop []wfID
	for _, w := range held {
		id := wfID{w.Key, w.Attempt}
		have[id] = true
		as, ok := want[id]
		switch {
		case !ok:
			a.log.Info("workflow no longer assigned here; aborting and deleting it", "execution", w.Key.String(), "attempt", w.Attempt, "phase", w.Phase)
			drop = append(drop, id)
		case as.Phase == v1.PhaseAborting && !w.Phase.Terminal():
			a.log.Info("aborting cancelled workflow", "execution", w.Key.String(), "attempt", w.Attempt)
			if err := a.backend.Abort(ctx, id.key, id.attempt); err != nil {
				a.m.sessionErrors.WithLabelValues(callBackend).Inc()
				errs = append(errs, fmt.Errorf("abort %s attempt %d: %w", id.key, id.attempt, err))
			}
		}
	}
	dropErrs := make([]error, len(drop))
	parallel(len(drop), func(i int) { dropErrs[i] = a.abortAndDelete(ctx, drop[i]) })
	for i, id := range drop {
		if dropErrs[i] != nil {
			errs = append(errs, dropErrs[i])
			continue
		}
		a.reports.forget(id)
	}
	var start []v1.Assignment
	for id, as := range want {
		if _, dead := a.tombstones[id]; dead || have[id] {
			continue
		}
		switch as.Phase {
		case v1.PhaseAborting:
			// Cancelled before it ran here (or after this agent lost it):
			// confirm at once, or the execution would wait in Aborting.
			a.reports.synthesize(v1.StatusReport{ExecutionKey: id.key, Attempt: id.attempt, Phase: v1.PhaseAborted,
				Message: "aborted before it ran on this cluster", At: time.Now()})
			a.kick()
		case v1.PhaseAssigned, v1.PhaseRunning:
			start = append(start, as)
		default:
			a.log.Warn("ignoring assignment in an unexpected phase", "execution", id.key.String(), "attempt", id.attempt, "phase", as.Phase)
		}
	}
	startErrs := make([]error, len(start))
	parallel(len(start), func(i int) {
		as := start[i]
		if err := a.backend.Start(ctx, as); err != nil {
			a.m.sessionErrors.WithLabelValues(callBackend).Inc()
			startErrs[i] = fmt.Errorf("start %s attempt %d: %w", as.Key(), as.Attempt, err)
			return
		}
		a.log.Info("started workflow", "execution", as.Key().String(), "attempt", as.Attempt, "resumed_nodes", len(as.Resume))
	})
	started := 0
	for _, err := range startErrs {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		started++
	}
	if started > 0 {
		a.kick()
	}
	return errors.Join(errs...)
}

// kick makes the report loop run now.
func (a *Agent) kick() {
	select {
	case a.kickReport <- struct{}{}:
	default:
	}
}
