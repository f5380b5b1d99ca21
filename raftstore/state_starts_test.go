package raftstore

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// The feed has an event for each execution leaving Assigned in a way that
// tells about its cluster, in the order applied, and nothing else.
func TestStartFeedHasEveryStartAndFailureToStart(t *testing.T) {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	names := []string{"runs", "fails", "succeeds", "requeued", "cancelled", "queued", "later"}
	var subs, assigns []Command
	for _, n := range names {
		subs = append(subs, submit(spec(n)))
		if n != "queued" {
			assigns = append(assigns, assign(n, "c1", 1))
		}
	}
	h.applyAll(subs...)
	from := h.s.StartCursor()
	h.applyAll(assigns...)
	h.applyAll(
		report("runs", "c1", 1, v1.PhaseRunning),
		report("fails", "c1", 1, v1.PhaseFailed),
		report("succeeds", "c1", 1, v1.PhaseSucceeded),
		requeue("requeued", 1, v1.ReasonClusterLost),
		cancel("cancelled"),
		cancel("queued"),
	)
	// Running to Failed is the workflow's own failure: no event.
	h.apply(report("runs", "c1", 1, v1.PhaseFailed))
	h.apply(report("later", "c1", 1, v1.PhaseRunning))

	var got []StartEvent
	next, lost := h.s.StartEvents(from, func(ev StartEvent) { got = append(got, ev) })
	want := []StartEvent{
		{Key: key("runs"), Cluster: "c1", Attempt: 1, Started: true},
		{Key: key("fails"), Cluster: "c1", Attempt: 1, Started: false},
		{Key: key("succeeds"), Cluster: "c1", Attempt: 1, Started: true},
		{Key: key("later"), Cluster: "c1", Attempt: 1, Started: true},
	}
	if !reflect.DeepEqual(got, want) || lost != 0 {
		t.Fatalf("events %+v (lost %d), want %+v", got, lost, want)
	}
	if next != from+4 || next != h.s.StartCursor() {
		t.Fatalf("cursor %d, want %d", next, from+4)
	}
	got = nil
	if again, _ := h.s.StartEvents(next, func(ev StartEvent) { got = append(got, ev) }); again != next || got != nil {
		t.Fatalf("read from the end: cursor %d, events %v", again, got)
	}
}

// A reader that falls more than the feed's size behind is told how many it
// lost and gets the newest ones.
func TestStartFeedLosesTheOldestWhenAReaderFallsBehind(t *testing.T) {
	s := NewState()
	n := startFeedSize + 10
	for i := range n {
		s.starts.add(StartEvent{Attempt: i})
	}
	first, count := -1, 0
	next, lost := s.StartEvents(0, func(ev StartEvent) {
		if first < 0 {
			first = ev.Attempt
		}
		count++
	})
	if lost != 10 || first != 10 || count != startFeedSize || next != uint64(n) {
		t.Fatalf("lost %d, first %d, read %d, next %d; want 10, 10, %d, %d", lost, first, count, next, startFeedSize, n)
	}
}

// ForEachAssignedBefore visits the Assigned executions placed before the
// cutoff, oldest first, across read-lock chunks, and stops when told.
func TestForEachAssignedBeforeVisitsOverdueOldestFirst(t *testing.T) {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	n := 2*assignedChunk + 5
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var subs, assigns []Command
	for i := range n {
		subs = append(subs, submit(spec(fmt.Sprintf("e%05d", i))))
	}
	h.applyAll(subs...)
	var want []string
	cutoff := t0.Add(time.Duration(n-10) * time.Second)
	for i := n - 1; i >= 0; i-- { // assigned newest name first: time order is not key order
		name := fmt.Sprintf("e%05d", i)
		at := t0.Add(time.Duration(n-1-i) * time.Second)
		c := assign(name, "c1", 1)
		c.At = at
		assigns = append(assigns, c)
		if at.Before(cutoff) && i%7 != 0 {
			want = append(want, key(name).String())
		}
	}
	h.applyAll(assigns...)
	var running []Command
	for i := 0; i < n; i += 7 {
		running = append(running, report(fmt.Sprintf("e%05d", i), "c1", 1, v1.PhaseRunning))
	}
	h.applyAll(running...)

	var got []string
	h.s.ForEachAssignedBefore(cutoff, func(e *v1.Execution) bool {
		if e.Phase != v1.PhaseAssigned {
			t.Fatalf("visited %s in %s", e.Key(), e.Phase)
		}
		got = append(got, e.Key().String())
		return true
	})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("visited %d, want %d, oldest first", len(got), len(want))
	}
	stop, seen := assignedChunk+2, 0
	h.s.ForEachAssignedBefore(cutoff, func(*v1.Execution) bool { seen++; return seen < stop })
	if seen != stop {
		t.Fatalf("a walk told to stop after %d visited %d", stop, seen)
	}
}
