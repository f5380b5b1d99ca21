package raftstore

import v1 "github.com/federation-dev/federation/api/federation/v1alpha1"

// ForEachQueued calls fn for each Queued execution in queue order (tier
// rank, then submission sequence) until fn returns false. Unlike Queued it
// copies nothing: the scheduler walks the whole queue on every round, and
// deep-copying a queue of many thousands of executions per round was most of
// a busy leader's CPU. fn gets the stored version: it must not modify it or
// anything it points at (stored versions are never mutated, so keeping a
// pointer past the call is safe), and must not call back into the State
// (the read lock is held).
func (s *State) ForEachQueued(fn func(e *v1.Execution) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.queue.Ascend(queueItem{}, false, func(q queueItem) bool {
		return fn(s.execs[q.key])
	})
}

// QueueLen returns how many executions are Queued.
func (s *State) QueueLen() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.queue.Len()
}
