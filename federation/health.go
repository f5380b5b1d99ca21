package federation

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// healthMonitor runs on the leader: it turns missed leases into Unhealthy,
// fresh ones back into healthy, and lost clusters and passed drain
// deadlines into requeues. Every decision is derived from the replicated
// state and the clock, so a new leader picks up where the old one stopped.
type healthMonitor struct {
	s        *Server
	limiters map[string]*rate.Limiter
	frozen   bool
}

func newHealthMonitor(s *Server) *healthMonitor {
	return &healthMonitor{s: s, limiters: map[string]*rate.Limiter{}}
}

func (h *healthMonitor) run(ctx context.Context) {
	period := min(h.s.cfg.HeartbeatTimeout/4, 500*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.check(ctx, now())
		}
	}
}

func (h *healthMonitor) check(ctx context.Context, at time.Time) {
	cfg := h.s.cfg
	st := h.s.node.State()
	clusters := st.Clusters()

	// If most clusters went silent at once, the likelier story is that this
	// control plane is cut off, not that they all died: freeze failover.
	var reporting, silent int
	for _, c := range clusters {
		if c.LastHeartbeat.IsZero() {
			continue
		}
		reporting++
		if at.Sub(c.LastHeartbeat) > cfg.HeartbeatTimeout {
			silent++
		}
	}
	frozen := reporting >= 3 && silent*2 > reporting
	if frozen != h.frozen {
		h.frozen = frozen
		if frozen {
			h.s.log.Warn("most clusters are silent: assuming a control-plane partition, failover frozen", "silent", silent, "reporting", reporting)
		} else {
			h.s.log.Info("clusters reporting again: failover resumed")
		}
	}
	h.s.metrics.failoverFrozen.Set(boolGauge(frozen))

	for _, c := range clusters {
		if ctx.Err() != nil {
			return
		}
		if c.LastHeartbeat.IsZero() {
			continue
		}
		expired := at.Sub(c.LastHeartbeat) > cfg.HeartbeatTimeout
		switch {
		case c.Healthy && expired:
			h.setHealth(ctx, c.Name, false)
		case !c.Healthy && !expired:
			h.setHealth(ctx, c.Name, true)
		}
		if c.Running == 0 {
			continue
		}
		if !frozen && expired && at.Sub(c.LastHeartbeat) > cfg.HeartbeatTimeout+cfg.FailoverGrace {
			h.requeueAll(ctx, c.Name, v1.ReasonClusterLost, "cluster lost: no heartbeat since "+c.LastHeartbeat.Format(time.RFC3339))
		}
		if c.State == v1.ClusterDraining && c.DrainDeadline != nil && at.After(*c.DrainDeadline) {
			h.requeueAll(ctx, c.Name, v1.ReasonDrainDeadline, "drain deadline passed on cluster "+c.Name)
		}
	}
}

func (h *healthMonitor) setHealth(ctx context.Context, name string, healthy bool) {
	if _, err := h.s.apply(ctx, raftstore.Command{Type: raftstore.CmdSetHealth, Name: name, Healthy: healthy}); err != nil {
		h.s.log.Warn("set cluster health", "cluster", name, "healthy", healthy, "err", err)
		return
	}
	h.s.log.Info("cluster health changed", "cluster", name, "healthy", healthy)
}

// requeueAll moves the live executions of a cluster back to the queue, at
// most RequeueRate per second per cluster.
func (h *healthMonitor) requeueAll(ctx context.Context, cluster, reason, msg string) {
	lim, ok := h.limiters[cluster]
	if !ok {
		burst := max(1, int(h.s.cfg.RequeueRate))
		lim = rate.NewLimiter(rate.Limit(h.s.cfg.RequeueRate), burst)
		h.limiters[cluster] = lim
	}
	var cmds []raftstore.Command
	for _, ex := range h.s.node.State().OnCluster(cluster) {
		if !lim.Allow() {
			break
		}
		cmds = append(cmds, raftstore.Command{Type: raftstore.CmdRequeue, Requeue: &raftstore.RequeueCmd{Key: ex.Key(), Attempt: ex.Attempt, Reason: reason, Message: msg}})
	}
	if len(cmds) == 0 {
		return
	}
	results, err := h.s.node.ApplyBatch(ctx, cmds)
	if err != nil {
		h.s.log.Warn("requeue", "cluster", cluster, "reason", reason, "err", err)
		return
	}
	n := 0
	for _, r := range results {
		if r.Err == nil {
			n++
		}
	}
	h.s.metrics.requeues.WithLabelValues(reason).Add(float64(n))
	h.s.log.Info("requeued executions", "cluster", cluster, "reason", reason, "count", n)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
