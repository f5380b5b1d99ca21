package raftstore

import (
	"maps"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// This file holds read-only walks for usage accounting and metrics. They
// hand out stored versions without copying them, so a caller that reads many
// executions (a usage report, a metrics scrape) does not clone the whole
// state. Stored versions are never mutated (see State), so reading one after
// the lock is released is safe; writing to one is forbidden. (NodeStatus
// hands out a value whose Outputs map is shared: read it only.)

// ForEachExecution calls fn for each execution that matches f, ordered by
// key, until fn returns false. It gathers the matches under the read lock
// and calls fn after releasing it, so a slow fn never holds up the FSM. fn
// gets the stored version: it must not modify it or anything it points at.
func (s *State) ForEachExecution(f ExecutionFilter, fn func(e *v1.Execution) bool) {
	for _, e := range s.matching(f) {
		if !fn(e) {
			return
		}
	}
}

func (s *State) matching(f ExecutionFilter) []*v1.Execution {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, ok := s.indexFor(f)
	if !ok {
		return nil
	}
	out := make([]*v1.Execution, 0, idx.Len())
	idx.Ascend("", false, func(k string) bool {
		if e := s.execs[k]; f.matches(e) {
			out = append(out, e)
		}
		return true
	})
	return out
}

// NodeStatus returns the stored status of one node of an execution.
func (s *State) NodeStatus(key v1.ExecutionKey, node string) (v1.NodeStatus, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.execs[key.String()]
	if !ok {
		return v1.NodeStatus{}, false
	}
	n, ok := e.Nodes[node]
	return n, ok
}

// QueueKey groups queued executions for the queue-depth metric.
type QueueKey struct {
	Tier    v1.Tier
	Project string
}

// QueueDepths counts the Queued executions by tier and project, from the
// running counts of state_aggregates.go: a metrics scrape never walks the
// queue.
func (s *State) QueueDepths() map[QueueKey]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.agg.queued)
}

// LiveCounts counts the executions that occupy each cluster by phase
// (Assigned, Running, Aborting), from the running counts of
// state_aggregates.go: a metrics scrape never walks the live executions.
func (s *State) LiveCounts() map[string]map[v1.ExecutionPhase]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]map[v1.ExecutionPhase]int, len(s.agg.clusters))
	for cluster, l := range s.agg.clusters {
		m := map[v1.ExecutionPhase]int{}
		for phase, n := range map[v1.ExecutionPhase]int{
			v1.PhaseAssigned: l.Assigned, v1.PhaseAborting: l.Aborting, v1.PhaseRunning: l.Live - l.Assigned - l.Aborting,
		} {
			if n > 0 {
				m[phase] = n
			}
		}
		out[cluster] = m
	}
	return out
}
