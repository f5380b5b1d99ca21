package raftstore

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSortedSetMatchesSortedSlice drives the set and a plain sorted slice
// with the same random operations, across chunk splits and merges, and
// compares contents and iteration from every kind of start.
func TestSortedSetMatchesSortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := newSortedSet(strings.Compare)
	var ref []string
	key := func() string {
		return string(rune('a'+r.IntN(26))) + string(rune('a'+r.IntN(26))) + string(rune('a'+r.IntN(26)))
	}
	for i := 0; i < 20000; i++ {
		k := key()
		j, found := slices.BinarySearch(ref, k)
		if r.IntN(3) == 0 {
			if got := s.Delete(k); got != found {
				t.Fatalf("Delete(%s) = %v, want %v", k, got, found)
			}
			if found {
				ref = slices.Delete(ref, j, j+1)
			}
		} else {
			if got := s.Insert(k); got == found {
				t.Fatalf("Insert(%s) = %v, found=%v", k, got, found)
			}
			if !found {
				ref = slices.Insert(ref, j, k)
			}
		}
		if s.Len() != len(ref) {
			t.Fatalf("Len %d, want %d", s.Len(), len(ref))
		}
		if _, want := slices.BinarySearch(ref, k); s.Has(k) != want {
			t.Fatalf("Has(%s)", k)
		}
	}
	checkChunks(t, s)
	if got := s.All(); !slices.Equal(got, ref) {
		t.Fatalf("contents differ: %d vs %d", len(got), len(ref))
	}
	checkAscend(t, s, ref, []string{"", "a", "mmm", ref[0], ref[len(ref)/2], ref[len(ref)-1], "zzzz"})
}

// TestSortedSetMatchesMapAcrossBlocks grows the set to many blocks in the
// orders the FSM produces (random keys, keys in order inside interleaved
// ranges, the ranges' heads removed like a queue's), then deletes at random
// down to nothing, so that chunks and blocks split, merge and empty. A map
// is the reference; at checkpoints the contents, the structure and
// iteration from every block and chunk boundary are compared.
func TestSortedSetMatchesMapAcrossBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	s := newSortedSet(strings.Compare)
	ref := map[string]bool{}
	insert := func(k string) {
		t.Helper()
		if got := s.Insert(k); got == ref[k] {
			t.Fatalf("Insert(%s) = %v with %v there", k, got, ref[k])
		}
		ref[k] = true
	}
	del := func(k string) {
		t.Helper()
		if got := s.Delete(k); got != ref[k] {
			t.Fatalf("Delete(%s) = %v with %v there", k, got, ref[k])
		}
		delete(ref, k)
	}
	checkpoint := func(what string) {
		t.Helper()
		checkChunks(t, s)
		want := slices.Sorted(maps.Keys(ref))
		if got := s.All(); !slices.Equal(got, want) {
			t.Fatalf("%s: contents differ: %d vs %d", what, len(got), len(want))
		}
		afters := []string{"", "0", "~"}
		for _, b := range s.blocks {
			// Each block's first and last element, and each chunk's, and
			// keys just around them (not in the set).
			afters = append(afters, b.chunks[0][0], b.chunks[0][0]+"!")
			for ci, c := range b.chunks {
				afters = append(afters, c[0], c[len(c)-1], c[len(c)-1]+"!", b.last[ci])
			}
		}
		for range 20 {
			if len(want) > 0 {
				afters = append(afters, want[r.IntN(len(want))])
			}
		}
		checkAscend(t, s, want, afters)
		for range 200 {
			k := fmt.Sprintf("%c%c/%06d", 'a'+r.IntN(26), 'a'+r.IntN(26), r.IntN(1000))
			if s.Has(k) != ref[k] {
				t.Fatalf("%s: Has(%s) = %v", what, k, s.Has(k))
			}
		}
		for _, k := range want[:min(len(want), 200)] {
			if !s.Has(k) {
				t.Fatalf("%s: Has(%s) = false", what, k)
			}
		}
		t.Logf("%s: %d elements in %d blocks, %d chunks", what, s.Len(), len(s.blocks), chunkCount(s))
	}

	// Random keys, a third of the operations deletes.
	for range 60_000 {
		k := fmt.Sprintf("%c%c/%06d", 'a'+r.IntN(26), 'a'+r.IntN(26), r.IntN(1000))
		if r.IntN(3) == 0 {
			del(k)
		} else if !ref[k] {
			insert(k)
		}
	}
	checkpoint("random")
	if len(s.blocks) < 2 {
		t.Fatalf("only %d blocks: the test does not reach block splits", len(s.blocks))
	}

	// Keys in order past every element, as Restore adds them: full
	// blocks of full chunks.
	for i := range 70_000 {
		insert(fmt.Sprintf("zz/%07d", i))
	}
	checkpoint("in order")

	// Interleaved ranges in order, each range's head deleted now and then
	// as a queue does.
	next, head := make([]int, 40), make([]int, 40)
	for i := range 120_000 {
		p := i % len(next)
		insert(fmt.Sprintf("r%02d/%07d", p, next[p]))
		next[p]++
		if r.IntN(4) == 0 {
			q := r.IntN(len(head))
			if head[q] < next[q] {
				del(fmt.Sprintf("r%02d/%07d", q, head[q]))
				head[q]++
			}
		}
	}
	checkpoint("interleaved ranges")

	// Everything deleted in random order: chunks and blocks merge, then
	// empty.
	keys := slices.Sorted(maps.Keys(ref))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for i, k := range keys {
		del(k)
		if i%(len(keys)/6) == 0 {
			checkpoint(fmt.Sprintf("%d deleted", i+1))
		}
	}
	checkpoint("all deleted")
	if len(s.blocks) != 0 || len(s.last) != 0 {
		t.Fatalf("empty set keeps %d blocks", len(s.blocks))
	}
	insert("again")
	checkpoint("reused")
}

// checkAscend compares Ascend from each of afters ("" meaning from the
// start) with the sorted reference, for a walk across a chunk or two and,
// from the start and from the last of afters, for a full walk.
func checkAscend(t *testing.T, s *sortedSet[string], ref []string, afters []string) {
	t.Helper()
	for _, after := range afters {
		start, found := slices.BinarySearch(ref, after)
		if after != "" && found {
			start++
		}
		limits := []int{300}
		if after == "" || after == afters[len(afters)-1] {
			limits = append(limits, len(ref)+1)
		}
		for _, limit := range limits {
			var got []string
			s.Ascend(after, after != "", func(k string) bool { got = append(got, k); return len(got) < limit })
			want := ref[start:min(len(ref), start+limit)]
			if !slices.Equal(got, want) {
				t.Fatalf("Ascend after %q (limit %d): got %d elements, want %d", after, limit, len(got), len(want))
			}
		}
	}
}

func chunkCount[K any](s *sortedSet[K]) int {
	n := 0
	for _, b := range s.blocks {
		n += len(b.chunks)
	}
	return n
}

// checkChunks checks the structure's invariants: no block empty or over
// sortedBlock chunks; no chunk empty or past its capacity of sortedChunk;
// the last elements recorded for blocks and chunks are theirs; ascending
// across chunks and blocks; Len right.
func checkChunks[K any](t *testing.T, s *sortedSet[K]) {
	t.Helper()
	if len(s.last) != len(s.blocks) {
		t.Fatalf("%d last elements for %d blocks", len(s.last), len(s.blocks))
	}
	n := 0
	var prev []K
	for bi, b := range s.blocks {
		if len(b.chunks) == 0 || len(b.chunks) > sortedBlock || len(b.last) != len(b.chunks) {
			t.Fatalf("block %d: %d chunks, %d last elements, want 1..%d", bi, len(b.chunks), len(b.last), sortedBlock)
		}
		for ci, c := range b.chunks {
			if len(c) == 0 || len(c) > sortedChunk || cap(c) != sortedChunk {
				t.Fatalf("block %d chunk %d: len %d cap %d, want 1..%d and cap %d", bi, ci, len(c), cap(c), sortedChunk, sortedChunk)
			}
			for j := 1; j < len(c); j++ {
				if s.cmp(c[j-1], c[j]) >= 0 {
					t.Fatalf("block %d chunk %d out of order at %d", bi, ci, j)
				}
			}
			if prev != nil && s.cmp(prev[len(prev)-1], c[0]) >= 0 {
				t.Fatalf("block %d chunk %d out of order with the chunk before", bi, ci)
			}
			if s.cmp(b.last[ci], c[len(c)-1]) != 0 {
				t.Fatalf("block %d chunk %d: recorded last element is not its last", bi, ci)
			}
			prev = c
			n += len(c)
		}
		if s.cmp(s.last[bi], prev[len(prev)-1]) != 0 {
			t.Fatalf("block %d: recorded last element is not its last", bi)
		}
	}
	if n != s.n {
		t.Fatalf("chunks hold %d, Len %d", n, s.n)
	}
}

// Keys that arrive in order fill their chunks; keys that arrive in order
// inside ranges (each project's names, the projects interleaved) fill their chunks instead of leaving half-empty
// halves behind, and random inserts never grow a chunk past its array.
// Random deletes merge chunks left nearly empty.
func TestSortedSetChunksStayWithinTheirArrays(t *testing.T) {
	tests := []struct {
		name    string
		key     func(i int) string
		minFill float64
	}{
		{"in order", func(i int) string { return fmt.Sprintf("%08d", i) }, 0.99},
		{"interleaved ranges in order", func(i int) string { return fmt.Sprintf("p%02d/%07d", i%50, i/50) }, 0.85},
		{"random", func(i int) string { return fmt.Sprintf("%08x", (uint32(i)*2654435761)>>1) }, 0.6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSortedSet(strings.Compare)
			const n = 100_000
			for i := range n {
				if !s.Insert(tc.key(i)) {
					t.Fatalf("key %d inserted twice", i)
				}
			}
			checkChunks(t, s)
			fill := float64(n) / float64(chunkCount(s)*sortedChunk)
			t.Logf("chunks %.1f%% full, %d blocks", 100*fill, len(s.blocks))
			if fill < tc.minFill {
				t.Fatalf("chunks %.1f%% full, want at least %.0f%%", 100*fill, 100*tc.minFill)
			}
			all := s.All()
			if !slices.IsSorted(all) || len(all) != n {
				t.Fatalf("%d elements, sorted %v", len(all), slices.IsSorted(all))
			}

			// Delete nine in ten at random: without merges the chunks
			// would be ~6% full.
			r := rand.New(rand.NewPCG(7, 8))
			r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			for _, k := range all[:n*9/10] {
				if !s.Delete(k) {
					t.Fatalf("Delete(%s) = false", k)
				}
			}
			checkChunks(t, s)
			fill = float64(s.Len()) / float64(chunkCount(s)*sortedChunk)
			t.Logf("after random deletes: chunks %.1f%% full, %d blocks", 100*fill, len(s.blocks))
			if fill < 0.25 {
				t.Fatalf("after random deletes: chunks %.1f%% full, want at least 25%%", 100*fill)
			}
		})
	}
}

// A nil set is empty: Len, Has, Delete and Ascend work on it.
func TestSortedSetNil(t *testing.T) {
	var s *sortedSet[string]
	if s.Len() != 0 || s.Has("a") || s.Delete("a") || len(s.All()) != 0 {
		t.Fatal("nil set is not empty")
	}
	s.Ascend("", false, func(string) bool { t.Fatal("Ascend on a nil set called fn"); return false })
}
