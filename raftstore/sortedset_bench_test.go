package raftstore

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The sortedSet benchmarks run at the size the control plane's indexes
// reach at a million executions, with the FSM's key shape. The build cases
// do a whole million inserts per op, so run them with a small count:
//
//	go test ./raftstore/ -run '^$' -bench 'SortedSet/Build' -benchtime 3x
//	go test ./raftstore/ -run '^$' -bench 'SortedSet/(Queue|Has|Ascend)' -benchtime 1s
const (
	benchSetKeys     = 1_000_000
	benchSetProjects = 50
)

func benchSetKey(project, seq int) string {
	return fmt.Sprintf("proj-%d/production/wf-%07d", project, seq)
}

// benchSetInterleaved returns keys as the FSM sees them: each project's
// names in increasing order, the projects interleaved, so most inserts land
// at the end of one of 50 ranges in the middle of the set.
func benchSetInterleaved() []string {
	keys := make([]string, benchSetKeys)
	for i := range keys {
		keys[i] = benchSetKey(i%benchSetProjects, i/benchSetProjects)
	}
	return keys
}

func benchSetBuild(keys []string) *sortedSet[string] {
	s := newSortedSet(strings.Compare)
	for _, k := range keys {
		s.Insert(k)
	}
	return s
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func BenchmarkSortedSet(b *testing.B) {
	inter := benchSetInterleaved()
	random := append([]string(nil), inter...)
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(len(random), func(i, j int) { random[i], random[j] = random[j], random[i] })

	// Build: a million inserts per op (in-order is Restore's); reports the time per insert and the
	// live heap the finished set holds per key (the keys' own bytes are
	// allocated beforehand and not counted).
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"Build/interleaved-ranges", inter},
		{"Build/random", random},
		{"Build/in-order", slices.Sorted(slices.Values(inter))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var perKey float64
			for range b.N {
				b.StopTimer()
				before := heapAlloc()
				b.StartTimer()
				s := benchSetBuild(tc.keys)
				b.StopTimer()
				perKey = float64(heapAlloc()-before) / float64(s.Len())
				if s.Len() != benchSetKeys {
					b.Fatalf("Len %d", s.Len())
				}
				runtime.KeepAlive(s)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSetKeys), "ns/insert")
			b.ReportMetric(perKey, "heap-B/key")
		})
	}

	s := benchSetBuild(inter)

	// Queue: each op adds the next name of one project (the end of its
	// range) and removes the set's first element, as the queue index does
	// when one execution is submitted and another assigned. The set stays
	// at a million keys.
	fresh := make([]string, 1<<16)
	b.Run("Queue/insert-range-end+delete-front", func(b *testing.B) {
		q := benchSetBuild(inter)
		next := make([]int, benchSetProjects)
		for p := range next {
			next[p] = benchSetKeys / benchSetProjects
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%len(fresh) == 0 {
				b.StopTimer()
				for j := range fresh {
					p := (i + j) % benchSetProjects
					fresh[j] = benchSetKey(p, next[p])
					next[p]++
				}
				b.StartTimer()
			}
			insertDeleteFront(b, q, fresh[i%len(fresh)])
		}
		if q.Len() != benchSetKeys {
			b.Fatalf("Len %d", q.Len())
		}
	})

	// Queue/insert-max: the queue and assigned-by-time indexes, where new
	// elements sort last.
	b.Run("Queue/insert-max+delete-front", func(b *testing.B) {
		q := benchSetBuild(inter)
		seq := 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%len(fresh) == 0 {
				b.StopTimer()
				for j := range fresh {
					fresh[j] = fmt.Sprintf("q/%09d", seq)
					seq++
				}
				b.StartTimer()
			}
			insertDeleteFront(b, q, fresh[i%len(fresh)])
		}
		if q.Len() != benchSetKeys {
			b.Fatalf("Len %d", q.Len())
		}
	})

	b.Run("Has/random-present", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if !s.Has(random[i%len(random)]) {
				b.Fatal("missing key")
			}
		}
	})

	b.Run("Ascend/100-from-random", func(b *testing.B) {
		n := 0
		for i := 0; b.Loop(); i++ {
			m := 0
			s.Ascend(random[i%len(random)], true, func(string) bool { m++; return m < 100 })
			n += m
		}
		if n < b.N*99 {
			b.Fatalf("%d elements in %d walks", n, b.N)
		}
	})
}

// insertDeleteFront inserts k, a new key, and deletes the set's first key.
func insertDeleteFront(b *testing.B, q *sortedSet[string], k string) {
	if !q.Insert(k) {
		b.Fatal("insert of a new key reported false")
	}
	var front string
	q.Ascend("", false, func(k string) bool { front = k; return false })
	if !q.Delete(front) {
		b.Fatal("delete of the front reported false")
	}
}
