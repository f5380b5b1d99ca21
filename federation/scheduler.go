package federation

import (
	"context"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/placement"
	"github.com/federation-dev/federation/raftstore"
)

// assignBatch bounds the commands of one Raft apply from the scheduler.
const assignBatch = 2000

// scheduler places queued executions while this replica leads. It keeps no
// placement state of its own: every round starts from the replicated state,
// so a new leader resumes exactly where the old one stopped and can never
// double-assign (an Assign is fenced by the attempt it names).
type scheduler struct {
	s     *Server
	needs map[string]v1.Amounts // by spec hash: the peak need is costly to recompute every round
}

func newScheduler(s *Server) *scheduler {
	return &scheduler{s: s, needs: map[string]v1.Amounts{}}
}

func (sc *scheduler) run(ctx context.Context) {
	changed, unsubscribe := sc.s.node.State().Changed()
	defer unsubscribe()
	tick := time.NewTicker(sc.s.cfg.SchedulerInterval)
	defer tick.Stop()
	for {
		sc.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// round runs one placement round and commits its assignments.
func (sc *scheduler) round(ctx context.Context) {
	st := sc.s.node.State()
	queueLen := st.QueueLen()
	if queueLen == 0 {
		return
	}
	start := time.Now()
	at := now()
	snap := sc.snapshot(st, at)
	if !anyTakesWork(snap) {
		// No cluster can take anything: walking the queue would place
		// nothing, and a long queue makes that walk the leader's main cost.
		return
	}
	// The stored versions are read, never copied: placement only reads.
	pending := make([]placement.Pending, 0, queueLen)
	st.ForEachQueued(func(ex *v1.Execution) bool {
		if !inHandoff(ex, at, sc.s.cfg.DrainHandoff) {
			pending = append(pending, sc.pendingOf(ex))
		}
		return true
	})
	decisions := placement.Decide(snap, pending, sc.s.cfg.Placement)
	sc.s.metrics.placementRound.Observe(time.Since(start).Seconds())

	cmds := make([]raftstore.Command, 0, len(decisions))
	for _, d := range decisions {
		if d.Cluster == "" {
			continue
		}
		key := d.Key
		cmds = append(cmds, raftstore.Command{Type: raftstore.CmdAssign, Assign: &raftstore.AssignCmd{Key: key, Cluster: d.Cluster, Attempt: d.Attempt}})
	}
	sc.s.metrics.decisions.WithLabelValues("placed").Add(float64(len(cmds)))
	sc.s.metrics.decisions.WithLabelValues("pending").Add(float64(len(decisions) - len(cmds)))
	for len(cmds) > 0 && ctx.Err() == nil {
		n := min(len(cmds), assignBatch)
		results, err := sc.s.node.ApplyBatch(ctx, cmds[:n])
		if err != nil {
			sc.s.log.Warn("commit assignments", "n", n, "err", err)
			return
		}
		sc.s.metrics.observeAssigned(results)
		for i, res := range results {
			if res.Err != nil {
				sc.s.log.Debug("assignment refused", "execution", cmds[i].Assign.Key, "err", res.Err)
			}
		}
		cmds = cmds[n:]
	}
	if len(sc.needs) > 4*queueLen+1024 {
		sc.needs = map[string]v1.Amounts{} // drop entries of executions long placed
	}
}

func (sc *scheduler) need(ex *v1.Execution) v1.Amounts {
	if a, ok := sc.needs[ex.SpecHash]; ok {
		return a
	}
	a := ex.Workflow.PeakResources()
	sc.needs[ex.SpecHash] = a
	return a
}

func (sc *scheduler) pendingOf(ex *v1.Execution) placement.Pending {
	return placement.Pending{
		Key:             ex.Key(),
		Attempt:         ex.Attempt,
		Tier:            ex.Tier,
		Seq:             ex.Seq,
		Selector:        ex.ClusterSelector,
		PreferredLabels: ex.PreferredLabels,
		Need:            sc.need(ex),
	}
}

// snapshot builds the placement engine's immutable view from the
// replicated state; the clock is read here, never inside placement.
func (sc *scheduler) snapshot(st *raftstore.State, at time.Time) *placement.Snapshot {
	cfg := sc.s.cfg
	snap := &placement.Snapshot{ProjectUsage: map[string]v1.Amounts{}, ProjectRunning: map[string]int{}}
	for _, c := range st.Clusters() {
		view := placement.ClusterView{
			Name:            c.Name,
			Labels:          c.Labels,
			Weight:          c.Weight,
			Tiers:           c.Tiers,
			AllowedProjects: c.AllowedProjects,
			State:           c.State,
			// Healthy is the live lease; Settled is the health monitor's
			// verdict, which comes back only after a returning cluster
			// stayed fresh for the settle time (a new cluster is healthy at
			// its first heartbeat: it has nothing to settle from).
			Healthy: !c.LastHeartbeat.IsZero() && at.Sub(c.LastHeartbeat) <= cfg.HeartbeatTimeout,
			Settled: c.Healthy,
			Breaker: c.Breaker,
			Load:    c.Running,
		}
		if c.Capacity != nil {
			view.HasCapacity = true
			view.Allocatable = c.Capacity.Allocatable
			view.Free = c.Capacity.Free
		}
		for _, ex := range st.OnCluster(c.Name) {
			n := sc.need(&ex)
			if ex.Phase == v1.PhaseAssigned {
				// Not started yet, so the agent's free capacity does not show it.
				view.Reserved = view.Reserved.Add(n)
				if view.Breaker == v1.BreakerHalfOpen {
					// The probe is out: nothing more until it started or
					// timed out and the breaker decided.
					view.Breaker = v1.BreakerOpen
				}
			}
			snap.ProjectUsage[ex.Project] = snap.ProjectUsage[ex.Project].Add(n)
			snap.ProjectRunning[ex.Project]++
		}
		snap.Clusters = append(snap.Clusters, view)
	}
	return snap
}

// inHandoff reports whether a drain requeued ex less than handoff ago: its
// old copy may still be stopping on the drained cluster, whose agent learns
// of the requeue only from its next assignment poll.
func inHandoff(ex *v1.Execution, at time.Time, handoff time.Duration) bool {
	if handoff <= 0 || len(ex.History) == 0 {
		return false
	}
	last := ex.History[len(ex.History)-1]
	return last.Phase == v1.PhaseQueued && last.Reason == v1.ReasonDrainDeadline && at.Sub(last.At) < handoff
}

// anyTakesWork reports whether some cluster of snap could take a new
// execution, by placement's own execution-independent filters.
func anyTakesWork(snap *placement.Snapshot) bool {
	for i := range snap.Clusters {
		if snap.Clusters[i].TakesWork() {
			return true
		}
	}
	return false
}
