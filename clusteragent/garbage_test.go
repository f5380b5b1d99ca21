package clusteragent

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func TestGarbageQueueDedupsAndWakes(t *testing.T) {
	q := newGarbageQueue()
	a := wfID{v1.ExecutionKey{Project: "p", Domain: "d", Name: "a"}, 1}
	b := wfID{v1.ExecutionKey{Project: "p", Domain: "d", Name: "b"}, 1}
	q.add(nil)
	select {
	case <-q.wake:
		t.Fatal("adding nothing woke the loop")
	default:
	}
	q.add([]wfID{a, b})
	q.add([]wfID{a})
	select {
	case <-q.wake:
	default:
		t.Fatal("adding did not wake the loop")
	}
	got := q.take()
	slices.SortFunc(got, func(x, y wfID) int { return strings.Compare(x.key.Name, y.key.Name) })
	if !slices.Equal(got, []wfID{a, b}) {
		t.Errorf("take = %v, want a and b once each", got)
	}
	if rest := q.take(); len(rest) != 0 {
		t.Errorf("second take = %v, want nothing", rest)
	}
}

func TestParallelBoundsAndCoversAll(t *testing.T) {
	const n = 50
	var running, peak, done atomic.Int32
	seen := make([]atomic.Bool, n)
	parallel(n, func(i int) {
		cur := running.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		seen[i].Store(true)
		done.Add(1)
		running.Add(-1)
	})
	if done.Load() != n {
		t.Fatalf("%d calls, want %d", done.Load(), n)
	}
	for i := range seen {
		if !seen[i].Load() {
			t.Errorf("index %d not called", i)
		}
	}
	if p := peak.Load(); p > backendParallelism || p < 2 {
		t.Errorf("peak concurrency %d, want 2..%d", p, backendParallelism)
	}
	parallel(0, func(int) { t.Error("called for n = 0") })
}
