package raftstore

import (
	"maps"
	"sync/atomic"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// This file keeps what placement needs to know about the executions on
// clusters (each cluster's reservations, each project's usage and count)
// as running sums, updated by putExecution on every change of an
// execution. A scheduler round reads them in O(clusters + projects)
// instead of walking, let alone copying, every live execution.
//
// The sums are derived state, like the indexes: they are not in snapshots,
// and Restore rebuilds them (rebuildAggregates).

// ClusterLoad is what the live executions of one cluster (Assigned,
// Running, Aborting) hold of it.
type ClusterLoad struct {
	// Live is how many there are: the cluster's Running.
	Live int
	// Assigned is how many of them are Assigned: placed but not started,
	// so the agent's free capacity does not show them yet.
	Assigned int
	// Aborting is how many of them are Aborting; the rest are Running.
	Aborting int
	// Reserved is the sum of the Assigned ones' peak needs.
	Reserved v1.Amounts
}

// ProjectLoad is what one project's live executions hold.
type ProjectLoad struct {
	// Running is how many there are.
	Running int
	// Usage is the sum of their peak needs.
	Usage v1.Amounts
}

// PlacementLoad is a copy of the running sums, for one scheduler round.
type PlacementLoad struct {
	// Clusters has an entry for each cluster with a live execution.
	Clusters map[string]ClusterLoad
	// Projects has an entry for each project with a live execution.
	Projects map[string]ProjectLoad
	// Seq is the sequence number of the newest submission: submissions
	// are numbered 1, 2, ... in commit order.
	Seq uint64
}

// aggregates are the running sums and what keeps them exact.
type aggregates struct {
	// needs is the peak need (WorkflowSpec.PeakResources) of each DAG
	// that executions not terminal hold, with how many do. A spec never
	// changes, and executions of one workflow share one DAG (the spec
	// pool's copy), so a need is computed once per workflow, and the table
	// is as large as the number of workflows, not of executions: at a
	// million executions a map entry per execution was tens of MiB of
	// heap and a map write per submission.
	needs    map[*v1.TaskNode]dagNeed
	clusters map[string]ClusterLoad
	projects map[string]ProjectLoad
	// queued counts the Queued executions by tier and project.
	queued map[QueueKey]int
	// lastSeq mirrors State.seq for readers that take no lock.
	lastSeq *atomic.Uint64
}

func newAggregates() aggregates {
	return aggregates{
		needs:    map[*v1.TaskNode]dagNeed{},
		clusters: map[string]ClusterLoad{},
		projects: map[string]ProjectLoad{},
		queued:   map[QueueKey]int{},
		lastSeq:  new(atomic.Uint64),
	}
}

// PlacementLoad returns a copy of the running sums and the newest
// submission's sequence number, consistent with each other.
func (s *State) PlacementLoad() PlacementLoad {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return PlacementLoad{Clusters: maps.Clone(s.agg.clusters), Projects: maps.Clone(s.agg.projects), Seq: s.seq}
}

// PlacementView reads what a placement round needs under one read lock,
// so that a round waits for the FSM once: the clusters, appended to
// clusters[:0] and returned (the stored versions, in no order: read them,
// never modify them), and, if walk(clusters, queued) returns true, the
// queue, in queue order with each execution's peak need (so that the
// scheduler never computes one; fn gets the stored version, as with
// ForEachQueued), and the running sums as they were during the walk, into
// load (else only load.Seq is set: a round that
// places nothing needs no more). An execution being assigned is thus either
// still in the queue or already in the sums, never in neither or both.
// Filling the caller's slice and maps lets a scheduler reuse them from
// round to round. walk and fn run under the read lock and hold up the FSM:
// they must be quick.
func (s *State) PlacementView(clusters []*v1.Cluster, load *PlacementLoad, walk func(clusters []*v1.Cluster, queued int) bool, fn func(e *v1.Execution, need v1.Amounts) bool) []*v1.Cluster {
	s.mu.RLock()
	defer s.mu.RUnlock()
	clusters = clusters[:0]
	for _, c := range s.clusters {
		clusters = append(clusters, c)
	}
	load.Seq = s.seq
	if !walk(clusters, s.queue.Len()) {
		return clusters
	}
	s.queue.Ascend(queueItem{}, false, func(q queueItem) bool {
		e := s.execs[q.key]
		return fn(e, s.agg.needOf(e))
	})
	load.Clusters = copyInto(load.Clusters, s.agg.clusters)
	load.Projects = copyInto(load.Projects, s.agg.projects)
	return clusters
}

// copyInto makes dst a copy of src, reusing dst's map when it has one.
func copyInto[V any](dst, src map[string]V) map[string]V {
	if dst == nil {
		return maps.Clone(src)
	}
	clear(dst)
	maps.Copy(dst, src)
	return dst
}

// LastSeq returns the sequence number of the newest submission. It takes
// no lock, so the submit path never waits for the FSM to ask.
func (s *State) LastSeq() uint64 {
	return s.agg.lastSeq.Load()
}

// assignedChunk is how many Assigned executions ForEachAssignedBefore
// visits under one hold of the read lock.
const assignedChunk = 4096

// dagNeed is a DAG's peak need and how many executions not terminal hold
// the DAG.
type dagNeed struct {
	need v1.Amounts
	refs int
}

// dagKey names e's DAG by its first node: executions share the spec
// pool's copy (nil for an empty DAG, which needs nothing).
func dagKey(e *v1.Execution) *v1.TaskNode {
	if len(e.Workflow.Nodes) == 0 {
		return nil
	}
	return &e.Workflow.Nodes[0]
}

// needOf returns e's peak need, from the table when e's DAG is in it.
func (a *aggregates) needOf(e *v1.Execution) v1.Amounts {
	if d, ok := a.needs[dagKey(e)]; ok {
		return d.need
	}
	return e.Workflow.PeakResources()
}

// holdNeed counts e, not terminal, as a holder of its DAG's need.
func (a *aggregates) holdNeed(e *v1.Execution, need v1.Amounts) {
	k := dagKey(e)
	d := a.needs[k]
	a.needs[k] = dagNeed{need: need, refs: d.refs + 1}
}

// releaseNeed counts e out of its DAG's holders.
func (a *aggregates) releaseNeed(e *v1.Execution) {
	k := dagKey(e)
	d, ok := a.needs[k]
	switch {
	case !ok:
	case d.refs <= 1:
		delete(a.needs, k)
	default:
		d.refs--
		a.needs[k] = d
	}
}

// share is where an execution counts in the sums: in the queue depths
// while Queued, on its cluster and project while live.
type share struct {
	queued  QueueKey
	cluster string
	project string
	phase   v1.ExecutionPhase
}

func shareOf(e *v1.Execution) share {
	if e == nil {
		return share{}
	}
	if e.Phase == v1.PhaseQueued {
		return share{queued: QueueKey{Tier: e.Tier, Project: e.Project}, phase: e.Phase}
	}
	c := liveCluster(e)
	if c == "" {
		return share{}
	}
	return share{cluster: c, project: e.Project, phase: e.Phase}
}

// aggregate moves an execution in the sums from old's share (nil: a new
// execution) to e's. Callers hold mu.
func (s *State) aggregate(old, e *v1.Execution) {
	a := &s.agg
	if old == nil && e.Seq > a.lastSeq.Load() {
		a.lastSeq.Store(e.Seq)
	}
	need := a.needOf(e)
	switch {
	case old == nil && !e.Phase.Terminal():
		a.holdNeed(e, need)
	case old != nil && !old.Phase.Terminal() && e.Phase.Terminal():
		a.releaseNeed(old)
	}
	from, to := shareOf(old), shareOf(e)
	if from == to {
		return
	}
	if from.phase == v1.PhaseQueued {
		a.addQueued(from.queued, -1)
	}
	if to.phase == v1.PhaseQueued {
		a.addQueued(to.queued, 1)
	}
	if from.cluster != "" {
		a.addCluster(from, need, -1)
		a.addProject(from.project, need, -1)
	}
	if to.cluster != "" {
		a.addCluster(to, need, 1)
		a.addProject(to.project, need, 1)
	}
}

func (a *aggregates) addQueued(k QueueKey, sign int) {
	if n := a.queued[k] + sign; n != 0 {
		a.queued[k] = n
	} else {
		delete(a.queued, k)
	}
}

func (a *aggregates) addCluster(sh share, need v1.Amounts, sign int) {
	l := a.clusters[sh.cluster]
	l.Live += sign
	switch sh.phase {
	case v1.PhaseAssigned:
		l.Reserved, l.Assigned = addSigned(l.Reserved, need, sign), l.Assigned+sign
	case v1.PhaseAborting:
		l.Aborting += sign
	}
	if l.Live == 0 {
		delete(a.clusters, sh.cluster)
		return
	}
	a.clusters[sh.cluster] = l
}

func (a *aggregates) addProject(name string, need v1.Amounts, sign int) {
	l := a.projects[name]
	l.Usage, l.Running = addSigned(l.Usage, need, sign), l.Running+sign
	if l.Running == 0 {
		delete(a.projects, name)
		return
	}
	a.projects[name] = l
}

func addSigned(sum, need v1.Amounts, sign int) v1.Amounts {
	if sign < 0 {
		return sum.Sub(need)
	}
	return sum.Add(need)
}

// rebuildAggregates recomputes the sums from the executions, after
// Restore replaced them. Restore runs on the FSM's goroutine, so nothing
// is applied meanwhile; the write lock keeps readers from seeing the
// restored executions with the old sums.
func (s *State) rebuildAggregates() {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.agg.lastSeq
	s.agg = newAggregates()
	s.agg.lastSeq = seq
	seq.Store(s.seq)
	for _, e := range s.execs {
		if !e.Phase.Terminal() {
			s.aggregate(nil, e)
		}
	}
}
