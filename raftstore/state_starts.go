package raftstore

import (
	"cmp"
	"strings"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// What the leader's circuit breakers read (federation/breaker.go): how
// executions leave Assigned, as a feed, and which have been Assigned for
// long, through an index by assignment time. Both cost the breakers time in
// proportion to what happens, never to how many executions wait to start;
// walking every Assigned execution was a leader's largest cost besides the
// FSM with a million of them.

// StartEvent is an execution leaving Assigned in a way that tells about its
// cluster: it started (reported Running or Succeeded) or it failed before it
// started. Requeues and cancels are not events: they say nothing about the
// cluster's ability to start work.
type StartEvent struct {
	Key     v1.ExecutionKey
	Cluster string
	Attempt int
	Started bool
}

// startFeedSize is how many events the feed keeps. A reader that falls
// further behind loses the oldest ones (StartEvents says how many): the
// breakers read it every health tick.
const startFeedSize = 1 << 16

// startFeed is a ring of the newest start events. It is derived, local
// state: not in snapshots, not reset by a restore, the same on every
// replica only by accident.
type startFeed struct {
	ring []StartEvent
	next uint64 // sequence number of the next event; the first is 0
}

func (f *startFeed) add(ev StartEvent) {
	if f.ring == nil {
		f.ring = make([]StartEvent, startFeedSize)
	}
	f.ring[f.next%startFeedSize] = ev
	f.next++
}

// startEventOf returns the event of e's change from old, if it is one.
func startEventOf(old, e *v1.Execution) (StartEvent, bool) {
	if old == nil || old.Phase != v1.PhaseAssigned || e.Phase == v1.PhaseAssigned || e.Attempt != old.Attempt {
		return StartEvent{}, false
	}
	ev := StartEvent{Key: e.Key(), Cluster: old.Cluster, Attempt: old.Attempt}
	switch e.Phase {
	case v1.PhaseRunning, v1.PhaseSucceeded:
		ev.Started = true
	case v1.PhaseFailed:
		// Straight from Assigned: it never reported Running in this
		// attempt, or it would have left Assigned then.
	default:
		return StartEvent{}, false
	}
	return ev, true
}

// StartCursor returns the sequence number of the next start event: a new
// reader starts there.
func (s *State) StartCursor() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.starts.next
}

// StartEvents calls fn for each start event from sequence number after on,
// in the order they were applied, and returns the cursor to pass next time
// and how many events were lost because the reader fell more than the
// feed's size behind. fn must not call back into the State.
func (s *State) StartEvents(after uint64, fn func(StartEvent)) (next, lost uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := &s.starts
	if after > f.next {
		after = f.next // a cursor this feed never handed out
	}
	if f.next-after > startFeedSize {
		lost = f.next - after - startFeedSize
		after = f.next - startFeedSize
	}
	for i := after; i < f.next; i++ {
		fn(f.ring[i%startFeedSize])
	}
	return f.next, lost
}

// assignedItem orders the Assigned executions by when they were placed.
type assignedItem struct {
	at  int64 // UnixNano of the assignment of the current attempt
	key string
}

func compareAssigned(a, b assignedItem) int {
	return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.key, b.key))
}

// assignedItemOf returns e's place in the index, or the zero item when e
// is not Assigned.
func assignedItemOf(k string, e *v1.Execution) assignedItem {
	if e == nil || e.Phase != v1.PhaseAssigned {
		return assignedItem{}
	}
	return assignedItem{at: AssignedAt(e).UnixNano(), key: k}
}

// AssignedAt is when the execution was placed for its current attempt.
func AssignedAt(e *v1.Execution) time.Time {
	for i := len(e.History) - 1; i >= 0; i-- {
		h := e.History[i]
		if h.Phase == v1.PhaseAssigned && h.Attempt == e.Attempt {
			return h.At
		}
	}
	return e.UpdatedAt
}

// ForEachAssignedBefore calls fn for each execution Assigned before cutoff
// (and still Assigned), oldest first, until fn returns false. It holds the
// read lock a chunk at a time, so a long walk never holds up the FSM for
// long; in exchange it is not a snapshot: an execution assigned during the
// walk may be missed. fn gets the stored version, must not modify it and
// must not call back into the State.
func (s *State) ForEachAssignedBefore(cutoff time.Time, fn func(e *v1.Execution) bool) {
	limit := cutoff.UnixNano()
	var after assignedItem
	more := false
	for {
		s.mu.RLock()
		n, stopped := 0, false
		s.assignedByTime.Ascend(after, more, func(it assignedItem) bool {
			if it.at >= limit {
				stopped = true
				return false
			}
			if n == assignedChunk {
				return false
			}
			n++
			after = it
			if !fn(s.execs[it.key]) {
				stopped = true
				return false
			}
			return true
		})
		s.mu.RUnlock()
		if stopped || n < assignedChunk {
			return
		}
		more = true
	}
}
