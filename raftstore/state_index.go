package raftstore

import (
	"strings"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// This file keeps the indexes and derived cluster fields in step with the
// executions. Every change of an execution goes through putExecution, so the
// invariants live in one place:
//   - all, byPhase, projects, byCluster, queue, assignedByTime and live
//     reflect execs;
//   - every change out of Assigned that tells about the cluster is fed
//     to the start feed;
//   - the running sums of state_aggregates.go reflect execs;
//   - a cluster's Running is the size of its live set;
//   - a Draining cluster whose live set empties becomes Drained;
//   - a cluster's revision moves when its live set changes or one of its
//     executions is asked to abort.

// putExecution stores e as the new version of old (nil for a new
// execution) and updates indexes, clusters and revisions. Callers hold mu.
func (s *State) putExecution(old, e *v1.Execution, at time.Time) {
	k := e.Key().String()
	s.execs[k] = e
	s.indexExecution(k, old, e)
	s.aggregate(old, e)
	s.dirty = true
	if ev, ok := startEventOf(old, e); ok {
		s.starts.add(ev)
	}

	oldLive, newLive := liveCluster(old), liveCluster(e)
	switch {
	case oldLive != newLive:
		if oldLive != "" {
			s.liveChanged(oldLive, at)
		}
		if newLive != "" {
			s.liveChanged(newLive, at)
		}
	case newLive != "" && e.Phase == v1.PhaseAborting && old.Phase != v1.PhaseAborting:
		// The agent must learn to abort it.
		s.bump(newLive)
	}
}

// liveCluster returns the cluster an execution occupies, or "".
func liveCluster(e *v1.Execution) string {
	if e == nil || !e.Phase.OnCluster() {
		return ""
	}
	return e.Cluster
}

func setOf(m map[string]*sortedSet[string], k string) *sortedSet[string] {
	set, ok := m[k]
	if !ok {
		set = newSortedSet(strings.Compare)
		m[k] = set
	}
	return set
}

func deleteFrom[K comparable](m map[K]*sortedSet[string], k K, key string) {
	if set, ok := m[k]; ok {
		set.Delete(key)
		if set.Len() == 0 {
			delete(m, k)
		}
	}
}

// indexExecution moves key k in the indexes from old's place (nil: none) to
// e's. It touches nothing else, so Restore can use it alone.
func (s *State) indexExecution(k string, old, e *v1.Execution) {
	if old == nil {
		s.all.Insert(k)
		s.countProject(e.Project, 1)
	}
	if old == nil || old.Phase != e.Phase {
		if old != nil {
			deleteFrom(s.byPhase, old.Phase, k)
		}
		phases := s.byPhase[e.Phase]
		if phases == nil {
			phases = newSortedSet(strings.Compare)
			s.byPhase[e.Phase] = phases
		}
		phases.Insert(k)
	}
	if old == nil || old.Cluster != e.Cluster {
		if old != nil && old.Cluster != "" {
			deleteFrom(s.byCluster, old.Cluster, k)
		}
		if e.Cluster != "" {
			setOf(s.byCluster, e.Cluster).Insert(k)
		}
	}
	oldQ, newQ := queueItemOf(k, old), queueItemOf(k, e)
	if oldQ != newQ {
		if oldQ.key != "" {
			s.queue.Delete(oldQ)
		}
		if newQ.key != "" {
			s.queue.Insert(newQ)
		}
	}
	if oldA, newA := assignedItemOf(k, old), assignedItemOf(k, e); oldA != newA {
		if oldA.key != "" {
			s.assignedByTime.Delete(oldA)
		}
		if newA.key != "" {
			s.assignedByTime.Insert(newA)
		}
	}
	if oldL, newL := liveCluster(old), liveCluster(e); oldL != newL {
		if oldL != "" {
			deleteFrom(s.live, oldL, k)
		}
		if newL != "" {
			setOf(s.live, newL).Insert(k)
		}
	}
}

// queueItemOf returns e's place in the queue, or the zero item when e is not
// queued.
func queueItemOf(k string, e *v1.Execution) queueItem {
	if e == nil || e.Phase != v1.PhaseQueued {
		return queueItem{}
	}
	return queueItem{rank: e.Tier.Rank(), seq: e.Seq, key: k}
}

// liveChanged updates a cluster after its live set changed: its Running
// count, Draining → Drained when it emptied, and its revision.
func (s *State) liveChanged(name string, at time.Time) {
	s.bump(name)
	c, ok := s.clusters[name]
	if !ok {
		return
	}
	n := *c
	n.Running = s.live[name].Len()
	if n.State == v1.ClusterDraining && n.Running == 0 {
		n.State = v1.ClusterDrained
		n.UpdatedAt = at
	}
	s.clusters[name] = &n
}

// bump moves a cluster's assignment revision and marks its waiters to be
// woken when the log entry is done.
func (s *State) bump(name string) {
	s.revCounter++
	s.revisions[name] = s.revCounter
	s.bumped[name] = struct{}{}
	s.dirty = true
}

// countProject adds d to project's count of executions.
func (s *State) countProject(project string, d int) {
	if n := s.projects[project] + d; n > 0 {
		s.projects[project] = n
	} else {
		delete(s.projects, project)
	}
}

// indexFor returns the smallest index of execution keys that holds every
// execution matching f (the caller still checks each with f.matches), or
// false when f names a phase, cluster or project no execution has.
func (s *State) indexFor(f ExecutionFilter) (keyIndex, bool) {
	var idx keyIndex = s.all
	pick := func(set keyIndex, ok bool) bool {
		if ok && set.Len() < idx.Len() {
			idx = set
		}
		return ok
	}
	if f.Phase != "" {
		if set, ok := s.byPhase[f.Phase]; !pick(set, ok) {
			return nil, false
		}
	}
	if f.Cluster != "" {
		if set, ok := s.byCluster[f.Cluster]; !pick(set, ok) {
			return nil, false
		}
	}
	if f.Project != "" {
		if _, ok := s.projects[f.Project]; !pick(s.projectKeys(f.Project), ok) {
			return nil, false
		}
	}
	return idx, true
}

// keyIndex is a set of execution keys to walk in order.
type keyIndex interface {
	Len() int
	Ascend(after string, hasAfter bool, fn func(string) bool)
}

// projectKeys is the keys of one project: the range of all that starts
// with "<project>/". Project names are DNS labels, so no other project's
// keys share that prefix.
func (s *State) projectKeys(project string) keyIndex {
	return prefixRange{set: s.all, prefix: project + "/", n: s.projects[project]}
}

type prefixRange struct {
	set    *sortedSet[string]
	prefix string
	n      int
}

func (r prefixRange) Len() int { return r.n }

func (r prefixRange) Ascend(after string, hasAfter bool, fn func(string) bool) {
	if !hasAfter || after < r.prefix {
		// No key equals the prefix itself, so starting after it starts
		// at the range's first key.
		after, hasAfter = r.prefix, true
	}
	r.set.Ascend(after, hasAfter, func(k string) bool {
		return strings.HasPrefix(k, r.prefix) && fn(k)
	})
}
