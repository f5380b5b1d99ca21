package clusteragent

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// heartbeatLoop renews the lease every HeartbeatInterval and, when that has
// failed for LeaseGrace, gives up the cluster's workflows.
func (a *Agent) heartbeatLoop(ctx context.Context) {
	bo := newBackoff(a.cfg.BackoffBase, a.cfg.BackoffMax)
	wait := a.cfg.HeartbeatInterval
	for sleep(ctx, wait) {
		if _, err := a.heartbeat(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("heartbeat failed", "err", err, "since_last_success", a.sinceHeartbeat().Round(time.Millisecond))
			// Retrying faster than the interval is what the jitter is
			// for; retrying slower would let the lease lapse.
			wait = min(bo.next(err), a.cfg.HeartbeatInterval)
		} else {
			bo.reset()
			wait = a.cfg.HeartbeatInterval
		}
		a.checkLease(ctx)
	}
}

// heartbeat sends the backend's capacity and records a success.
func (a *Agent) heartbeat(ctx context.Context) (v1.HeartbeatResponse, error) {
	capacity, err := a.backend.Capacity(ctx)
	if err != nil {
		a.m.sessionErrors.WithLabelValues(callBackend).Inc()
		// Without the cluster's capacity the lease is not renewed: a
		// cluster whose API cannot be read should not get new work.
		return v1.HeartbeatResponse{}, fmt.Errorf("read capacity of cluster %s: %w", a.cfg.Cluster, err)
	}
	hb := v1.Heartbeat{Capacity: capacity, AgentVersion: a.cfg.Version}
	resp, err := call(ctx, a, a.hbBreaker, a.cfg.CallTimeout, func(ctx context.Context) (v1.HeartbeatResponse, error) {
		return a.cp.Heartbeat(ctx, a.cfg.Cluster, hb)
	})
	if err != nil {
		return resp, err
	}
	a.lastHeartbeat.Store(time.Now().UnixNano())
	a.learnLeaseGrace(resp)
	if a.leaseLost.Swap(false) {
		a.log.Info("heartbeats succeed again; the lease is renewed")
	}
	if old := a.ClusterState(); old != resp.State {
		a.clusterState.Store(resp.State)
		if old != "" {
			a.log.Info("cluster state changed", "from", old, "to", resp.State, "healthy", resp.Healthy)
		}
	}
	return resp, nil
}

// learnLeaseGrace sets the lease grace in force from a heartbeat answer:
// the configured one, or else lease + failover grace/2, which leaves the
// agent half the failover grace to stop its copies before the federation
// starts new ones, and never stops them while the lease still holds.
func (a *Agent) learnLeaseGrace(resp v1.HeartbeatResponse) {
	g := a.cfg.LeaseGrace
	if g == 0 && resp.FailoverGrace.Duration > 0 {
		g = resp.LeaseDuration.Duration + resp.FailoverGrace.Duration/2
	}
	if old := time.Duration(a.leaseGrace.Swap(int64(g))); old != g && a.cfg.LeaseGrace == 0 {
		a.log.Info("lease grace derived from the federation's lease and failover grace", "lease_grace", g,
			"lease", resp.LeaseDuration.Duration, "failover_grace", resp.FailoverGrace.Duration)
	}
}

// effectiveLeaseGrace is the lease grace in force (0: none).
func (a *Agent) effectiveLeaseGrace() time.Duration {
	if a.cfg.LeaseGrace > 0 {
		return a.cfg.LeaseGrace
	}
	return time.Duration(a.leaseGrace.Load())
}

func (a *Agent) sinceHeartbeat() time.Duration {
	return time.Since(time.Unix(0, a.lastHeartbeat.Load()))
}

// checkLease aborts and deletes the cluster's unfinished workflows once no
// heartbeat has succeeded for the lease grace: the control plane has declared
// the cluster lost and requeued them, so going on would run them twice.
// Finished workflows are kept, so that their reports still go out. The next
// assignment list is then applied in full, which restarts whatever the
// control plane did keep here.
func (a *Agent) checkLease(ctx context.Context) {
	grace := a.effectiveLeaseGrace()
	if grace <= 0 || a.leaseLost.Load() {
		return
	}
	since := a.sinceHeartbeat()
	if since < grace {
		return
	}
	a.log.Error("no successful heartbeat within the lease grace: aborting this cluster's workflows, the federation has requeued them",
		"since_last_success", since.Round(time.Millisecond), "lease_grace", grace)
	a.mu.Lock()
	defer a.mu.Unlock()
	held, err := a.backend.List(ctx)
	if err != nil {
		a.m.sessionErrors.WithLabelValues(callBackend).Inc()
		a.log.Error("lease lost: list workflows", "err", err)
		return
	}
	ok := true
	for _, w := range held {
		if w.Phase.Terminal() {
			continue
		}
		id := wfID{w.Key, w.Attempt}
		if err := a.abortAndDelete(ctx, id); err != nil {
			a.log.Error("lease lost: abort workflow", "execution", w.Key.String(), "attempt", w.Attempt, "err", err)
			ok = false
			continue
		}
		a.reports.forget(id)
	}
	// On failure the next check tries again.
	a.leaseLost.Store(ok)
	a.resync.Store(true)
}

// abortAndDelete stops and forgets one workflow copy. The caller holds a.mu.
func (a *Agent) abortAndDelete(ctx context.Context, id wfID) error {
	if err := a.backend.Abort(ctx, id.key, id.attempt); err != nil {
		a.m.sessionErrors.WithLabelValues(callBackend).Inc()
		return fmt.Errorf("abort %s attempt %d: %w", id.key, id.attempt, err)
	}
	if err := a.backend.Delete(ctx, id.key, id.attempt); err != nil {
		a.m.sessionErrors.WithLabelValues(callBackend).Inc()
		return fmt.Errorf("delete %s attempt %d: %w", id.key, id.attempt, err)
	}
	return nil
}
