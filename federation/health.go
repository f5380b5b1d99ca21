package federation

import (
	"cmp"
	"context"
	"slices"
	"time"

	"golang.org/x/time/rate"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// healthMonitor runs on the leader: it turns missed leases into Unhealthy,
// clusters that stayed fresh for the settle time back into healthy, lost
// clusters and drains into requeues, and start failures into open circuit
// breakers. Every decision is derived from the replicated state and the
// clock, so a new leader picks up where the old one stopped; what it keeps
// in memory (settle windows, breakers) only ever makes it more careful
// after a leader change, never less.
type healthMonitor struct {
	s        *Server
	limiters map[string]*rate.Limiter
	frozen   bool
	// freshSince is when this leader first saw an unhealthy cluster's lease
	// fresh again; the cluster is healthy again once it stayed fresh for
	// the settle time. A flap in between starts the window over.
	freshSince map[string]time.Time
	breakers   *breakerSet
	period     time.Duration
}

func newHealthMonitor(s *Server) *healthMonitor {
	h := &healthMonitor{
		s:          s,
		limiters:   map[string]*rate.Limiter{},
		freshSince: map[string]time.Time{},
		period:     min(s.cfg.HeartbeatTimeout/4, 500*time.Millisecond),
	}
	h.breakers = newBreakerSet(s.cfg.BreakerFailures, s.cfg.BreakerOpenTime, s.cfg.BreakerStartTimeout, s.apply,
		func(cluster, from, to string) {
			s.log.Warn("cluster circuit breaker changed", "cluster", cluster, "from", from, "to", to)
		})
	return h
}

func (h *healthMonitor) run(ctx context.Context) {
	t := time.NewTicker(h.period)
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
		silentFor := at.Sub(c.LastHeartbeat)
		expired := silentFor > cfg.HeartbeatTimeout
		h.settle(ctx, &c, expired, at)
		if c.Running == 0 {
			continue
		}
		if !frozen && expired && silentFor > cfg.HeartbeatTimeout+cfg.FailoverGrace {
			h.requeue(ctx, c.Name, c.Running, false, v1.ReasonClusterLost, "cluster lost: no heartbeat since "+c.LastHeartbeat.Format(time.RFC3339))
		}
		if c.State == v1.ClusterDraining && c.DrainDeadline != nil {
			h.drain(ctx, &c, at)
		}
	}
	if ctx.Err() == nil {
		h.breakers.observe(ctx, st, at)
	}
}

// settle moves a cluster's health: unhealthy as soon as its lease expires,
// healthy again only after its lease stayed fresh for the settle time, so a
// flapping cluster gets no work. A new cluster is healthy at its first
// heartbeat (the FSM does that): it has nothing to settle from.
func (h *healthMonitor) settle(ctx context.Context, c *v1.Cluster, expired bool, at time.Time) {
	switch {
	case expired:
		delete(h.freshSince, c.Name)
		if c.Healthy {
			h.setHealth(ctx, c.Name, false)
		}
	case !c.Healthy:
		since, ok := h.freshSince[c.Name]
		if !ok {
			since = at
			h.freshSince[c.Name] = at
			h.s.log.Info("cluster heartbeats again; settling before it gets work", "cluster", c.Name, "settle_time", h.s.cfg.SettleTime)
		}
		if at.Sub(since) >= h.s.cfg.SettleTime {
			h.setHealth(ctx, c.Name, true)
			delete(h.freshSince, c.Name)
		}
	default:
		delete(h.freshSince, c.Name)
	}
}

// drain requeues a draining cluster's executions so that none is left
// running there at the deadline, at no more than RequeueRate per second:
// it starts early enough to finish by then, youngest executions first (they
// lose the least work and the oldest are likeliest to end on their own).
// At the deadline whatever is left goes at once: the deadline is a promise
// to the SRE.
func (h *healthMonitor) drain(ctx context.Context, c *v1.Cluster, at time.Time) {
	left := c.DrainDeadline.Sub(at)
	if left <= 0 {
		h.requeue(ctx, c.Name, c.Running, true, v1.ReasonDrainDeadline, "drain deadline passed on cluster "+c.Name)
		return
	}
	// The time the remaining requeues take at the rate limit, plus two
	// ticks so the last batch is not late.
	need := time.Duration(float64(c.Running)/h.s.cfg.RequeueRate*float64(time.Second)) + 2*h.period
	if left <= need {
		h.requeue(ctx, c.Name, c.Running, false, v1.ReasonDrainDeadline, "cluster "+c.Name+" is draining; requeued ahead of its deadline "+c.DrainDeadline.UTC().Format(time.RFC3339))
	}
}

func (h *healthMonitor) setHealth(ctx context.Context, name string, healthy bool) {
	if _, err := h.s.apply(ctx, raftstore.Command{Type: raftstore.CmdSetHealth, Name: name, Healthy: healthy}); err != nil {
		h.s.log.Warn("set cluster health", "cluster", name, "healthy", healthy, "err", err)
		return
	}
	h.s.log.Info("cluster health changed", "cluster", name, "healthy", healthy)
}

// limiter is the cluster's requeue rate limiter.
func (h *healthMonitor) limiter(cluster string) *rate.Limiter {
	lim, ok := h.limiters[cluster]
	if !ok {
		burst := max(1, int(h.s.cfg.RequeueRate))
		lim = rate.NewLimiter(rate.Limit(h.s.cfg.RequeueRate), burst)
		h.limiters[cluster] = lim
	}
	return lim
}

// requeue moves up to n live executions of a cluster back to the queue,
// youngest first, at most RequeueRate per second unless all is set.
func (h *healthMonitor) requeue(ctx context.Context, cluster string, n int, all bool, reason, msg string) {
	lim := h.limiter(cluster)
	live := h.s.node.State().OnCluster(cluster)
	slices.SortStableFunc(live, func(a, b v1.Execution) int {
		return cmp.Compare(raftstore.AssignedAt(&b).UnixNano(), raftstore.AssignedAt(&a).UnixNano())
	})
	var cmds []raftstore.Command
	for _, ex := range live {
		if len(cmds) == n || (!all && !lim.Allow()) {
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
	done := 0
	for _, r := range results {
		if r.Err == nil {
			done++
		}
	}
	h.s.metrics.requeues.WithLabelValues(reason).Add(float64(done))
	h.s.log.Info("requeued executions", "cluster", cluster, "reason", reason, "count", done)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
