package federation

import (
	"context"
	"sync"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/placement"
	"github.com/federation-dev/federation/raftstore"
)

const (
	// assignBatch bounds the commands of one proposal from the scheduler.
	// Group commit packs several into one log entry, and the leader's FSM
	// answers each as soon as it is applied: smaller batches are answered
	// sooner, not written more often.
	assignBatch = 100
	// commitsInFlight bounds the scheduler's assignment batches being
	// committed at once. Rounds are pipelined: the next round walks the
	// queue and decides while the previous rounds' assignments commit.
	commitsInFlight = 80
	// roundPlacements bounds the placements of one round, so that a round
	// over a large backlog hands over its first assignments soon and the
	// next round, which sees what was submitted meanwhile, starts early:
	// a critical execution never waits for a backlog to commit.
	roundPlacements = commitsInFlight * assignBatch
	// minRoundGap is how long a round may read the state before the next
	// round waits as long again.
	minRoundGap = 2 * time.Millisecond
)

// scheduler places queued executions while this replica leads. It keeps no
// placement state of its own beyond the assignments it is committing: every
// round starts from the replicated state, so a new leader resumes exactly
// where the old one stopped and can never double-assign (an Assign is
// fenced by the attempt it names).
type scheduler struct {
	s *Server
	// slots bounds the assignment batches being committed.
	slots chan struct{}
	wg    sync.WaitGroup

	// mu guards inflight: the assignments proposed and not yet answered.
	// A round skips their executions and counts their needs against their
	// clusters and projects while they are still Queued in the state.
	mu       sync.Mutex
	inflight map[v1.ExecutionKey]inflightAssign

	// Buffers reused from round to round (only the run goroutine uses
	// them): a round runs on every change, and garbage is GC work that
	// shows up in everyone's latency.
	clusters []*v1.Cluster
	views    []placement.ClusterView
	pending  []placement.Pending
	load     raftstore.PlacementLoad
	over     overlay
}

type inflightAssign struct {
	cluster string
	attempt int
}

func newScheduler(s *Server) *scheduler {
	return &scheduler{
		s:        s,
		slots:    make(chan struct{}, commitsInFlight),
		inflight: map[v1.ExecutionKey]inflightAssign{},
	}
}

func (sc *scheduler) run(ctx context.Context) {
	changed, unsubscribe := sc.s.node.State().Changed()
	defer unsubscribe()
	// Commits in flight end with ctx (or with leadership).
	defer sc.wg.Wait()
	tick := time.NewTicker(sc.s.cfg.SchedulerInterval)
	defer tick.Stop()
	for {
		read := sc.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
		// A round reads the state under its read lock, and the FSM
		// waits for it: after a long read (a long queue that places
		// little), leave the FSM as long again before the next round, so
		// rounds triggered by every change cannot starve it.
		if read > minRoundGap {
			select {
			case <-ctx.Done():
				return
			case <-time.After(read):
			}
		}
	}
}

// overlay is what the assignments in flight add to the state's sums.
type overlay struct {
	clusters map[string]overlayLoad
	projects map[string]overlayLoad
}

func (o *overlay) reset() {
	clear(o.clusters)
	clear(o.projects)
}

type overlayLoad struct {
	n    int
	need v1.Amounts
}

// add counts ex, still Queued in the state, if an assignment of it is in
// flight, and reports whether one is (of any attempt).
func (o *overlay) add(inflight map[v1.ExecutionKey]inflightAssign, ex *v1.Execution, need v1.Amounts) bool {
	if len(inflight) == 0 {
		return false
	}
	a, ok := inflight[ex.Key()]
	if !ok || a.attempt != ex.Attempt {
		// An assignment of an older attempt is refused as stale when it
		// applies: it holds nothing.
		return ok
	}
	if o.clusters == nil {
		o.clusters, o.projects = map[string]overlayLoad{}, map[string]overlayLoad{}
	}
	c := o.clusters[a.cluster]
	o.clusters[a.cluster] = overlayLoad{n: c.n + 1, need: c.need.Add(need)}
	p := o.projects[ex.Project]
	o.projects[ex.Project] = overlayLoad{n: p.n + 1, need: p.need.Add(need)}
	return true
}

// round runs one placement round: the queue walk, Decide, and handing the
// assignments to commit, which goes on in the background. It returns how
// long it held the state's read lock.
func (sc *scheduler) round(ctx context.Context) (read time.Duration) {
	st := sc.s.node.State()
	start := time.Now()
	at := now()
	cfg := &sc.s.cfg
	pending, over := sc.pending[:0], &sc.over
	over.reset()
	defer func() { sc.pending = keep(pending) }()
	sc.mu.Lock()
	var readStart time.Time
	// One read of the state: the clusters, the queue and the running sums
	// together. An assignment in flight is either still Queued (counted
	// from here) or applied (the sums have it), never both.
	sc.clusters = st.PlacementView(sc.clusters, &sc.load, func(clusters []*v1.Cluster, queued int) bool {
		readStart = time.Now() // under the read lock from here
		// When no cluster can take anything, walking the queue would place
		// nothing, and a long queue makes that walk the leader's main
		// cost.
		return queued > 0 && anyTakesWork(clusters, at, cfg)
	}, func(ex *v1.Execution, need v1.Amounts) bool {
		if over.add(sc.inflight, ex, need) {
			return true
		}
		if !inHandoff(ex, at, cfg.DrainHandoff) {
			pending = append(pending, pendingOf(ex, need))
		}
		return true
	})
	read = time.Since(readStart)
	sc.mu.Unlock()
	// Every submission up to Seq is examined now; when no cluster takes
	// work that counts too, so a full federation still accepts and queues
	// submissions.
	sc.s.adm.examined(sc.load.Seq)
	if len(pending) == 0 {
		return read
	}
	sc.views = clusterViews(sc.views, sc.clusters, at, cfg)
	snap := buildSnapshot(sc.views, sc.load, over)
	opts := cfg.Placement
	if opts.MaxDecisions <= 0 || opts.MaxDecisions > roundPlacements {
		opts.MaxDecisions = roundPlacements
	}
	decisions := placement.Decide(snap, pending, opts)
	sc.s.metrics.placementRound.Observe(time.Since(start).Seconds())

	// The commands are the node's once proposed (ApplyBatchAhead), so each
	// round makes its own, payloads in one array (a pointer into an array
	// outgrown stays valid: the old array lives on).
	placed := min(len(decisions), roundPlacements)
	cmds := make([]raftstore.Command, 0, placed)
	assigns := make([]raftstore.AssignCmd, 0, placed)
	sc.mu.Lock()
	for _, d := range decisions {
		if d.Cluster == "" {
			continue
		}
		sc.inflight[d.Key] = inflightAssign{cluster: d.Cluster, attempt: d.Attempt}
		assigns = append(assigns, raftstore.AssignCmd{Key: d.Key, Cluster: d.Cluster, Attempt: d.Attempt})
		cmds = append(cmds, raftstore.Command{Type: raftstore.CmdAssign, Assign: &assigns[len(assigns)-1]})
	}
	sc.mu.Unlock()
	sc.s.metrics.decisions.WithLabelValues("placed").Add(float64(len(cmds)))
	sc.s.metrics.decisions.WithLabelValues("pending").Add(float64(len(decisions) - len(cmds)))
	for len(cmds) > 0 {
		n := min(len(cmds), assignBatch)
		batch := cmds[:n:n]
		cmds = cmds[n:]
		select {
		case sc.slots <- struct{}{}:
		case <-ctx.Done():
			sc.forget(append(batch, cmds...))
			return read
		}
		sc.wg.Add(1)
		go sc.commit(ctx, batch)
	}
	return read
}

// commit commits one batch of assignments ahead of waiting submissions,
// then forgets them: from then on the state has them (or refused them).
func (sc *scheduler) commit(ctx context.Context, cmds []raftstore.Command) {
	defer sc.wg.Done()
	defer func() { <-sc.slots }()
	defer sc.forget(cmds)
	results, err := sc.s.node.ApplyBatchAhead(ctx, cmds)
	if err != nil {
		sc.s.log.Warn("commit assignments", "n", len(cmds), "err", err)
		return
	}
	acked := time.Now()
	sc.s.metrics.observeAssigned(results)
	for i, res := range results {
		if res.Err != nil {
			sc.s.log.Debug("assignment refused", "execution", cmds[i].Assign.Key, "err", res.Err)
		}
	}
	if obs := sc.s.cfg.OnAssigned; obs != nil {
		obs(results, acked)
	}
}

func (sc *scheduler) forget(cmds []raftstore.Command) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, c := range cmds {
		delete(sc.inflight, c.Assign.Key)
	}
}

func pendingOf(ex *v1.Execution, need v1.Amounts) placement.Pending {
	return placement.Pending{
		Key:             ex.Key(),
		Attempt:         ex.Attempt,
		Tier:            ex.Tier,
		Seq:             ex.Seq,
		Selector:        ex.ClusterSelector,
		PreferredLabels: ex.PreferredLabels,
		Need:            need,
	}
}

// snapshot builds the placement engine's view of the replicated state now,
// with this scheduler's assignments in flight counted; the clock is read
// here, never inside placement.
func (sc *scheduler) snapshot(st *raftstore.State, at time.Time) *placement.Snapshot {
	var (
		over overlay
		load raftstore.PlacementLoad
	)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	clusters := st.PlacementView(nil, &load, func([]*v1.Cluster, int) bool { return true },
		func(ex *v1.Execution, need v1.Amounts) bool {
			over.add(sc.inflight, ex, need)
			return len(sc.inflight) > 0 // else the sums are all it needs
		})
	return buildSnapshot(clusterViews(nil, clusters, at, &sc.s.cfg), load, &over)
}

// clusterViews turns the clusters into placement's views, without what
// their executions hold of them, appended to views[:0].
func clusterViews(views []placement.ClusterView, clusters []*v1.Cluster, at time.Time, cfg *Config) []placement.ClusterView {
	views = views[:0]
	for _, c := range clusters {
		views = append(views, clusterView(c, at, cfg))
	}
	return views
}

// keep returns a buffer to reuse next round: emptied, and dropped when a
// long queue made it much larger than the rounds need.
func keep[T any](buf []T) []T {
	if cap(buf) > 1<<16 && len(buf) < cap(buf)/4 {
		return nil
	}
	clear(buf) // no pointers into executions kept alive
	return buf[:0]
}

// clusterView is one cluster as placement sees it. The view shares the
// cluster's labels and lists, which nobody modifies.
func clusterView(c *v1.Cluster, at time.Time, cfg *Config) placement.ClusterView {
	view := placement.ClusterView{
		Name:            c.Name,
		Labels:          c.Labels,
		Weight:          c.Weight,
		Tiers:           c.Tiers,
		AllowedProjects: c.AllowedProjects,
		State:           c.State,
		// Healthy is the live lease; Settled is the health monitor's
		// verdict, which comes back only after a returning cluster stayed
		// fresh for the settle time (a new cluster is healthy at its first
		// heartbeat: it has nothing to settle from).
		Healthy: !c.LastHeartbeat.IsZero() && at.Sub(c.LastHeartbeat) <= cfg.HeartbeatTimeout,
		Settled: c.Healthy,
		Breaker: c.Breaker,
	}
	if c.Capacity != nil {
		view.HasCapacity = true
		view.Allocatable = c.Capacity.Allocatable
		view.Free = c.Capacity.Free
	}
	return view
}

// buildSnapshot is the placement engine's immutable view: the clusters,
// what their executions hold of them (the state's running sums plus the
// assignments in flight), and the projects' usage for fair share.
func buildSnapshot(views []placement.ClusterView, load raftstore.PlacementLoad, over *overlay) *placement.Snapshot {
	snap := &placement.Snapshot{
		Clusters:       views,
		ProjectUsage:   make(map[string]v1.Amounts, len(load.Projects)+len(over.projects)),
		ProjectRunning: make(map[string]int, len(load.Projects)+len(over.projects)),
	}
	for i := range snap.Clusters {
		view := &snap.Clusters[i]
		l, o := load.Clusters[view.Name], over.clusters[view.Name]
		view.Load = l.Live + o.n
		// Assigned but not started, so the agent's free capacity does not
		// show it yet.
		view.Reserved = l.Reserved.Add(o.need)
		if view.Breaker == v1.BreakerHalfOpen && l.Assigned+o.n > 0 {
			// The probe is out: nothing more until it started or timed out
			// and the breaker decided.
			view.Breaker = v1.BreakerOpen
		}
	}
	for p, l := range load.Projects {
		snap.ProjectUsage[p], snap.ProjectRunning[p] = l.Usage, l.Running
	}
	for p, o := range over.projects {
		snap.ProjectUsage[p] = snap.ProjectUsage[p].Add(o.need)
		snap.ProjectRunning[p] += o.n
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

// anyTakesWork reports whether some cluster could take a new execution, by
// placement's own execution-independent filters.
func anyTakesWork(clusters []*v1.Cluster, at time.Time, cfg *Config) bool {
	for _, c := range clusters {
		if v := clusterView(c, at, cfg); v.TakesWork() {
			return true
		}
	}
	return false
}
