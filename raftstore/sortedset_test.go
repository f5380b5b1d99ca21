package raftstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSortedSetMatchesSortedSlice drives the chunked set and a plain sorted
// slice with the same random operations, across several chunk splits and
// merges, and compares contents and iteration from every kind of start.
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
	for _, after := range []string{"", "a", "mmm", ref[0], ref[len(ref)/2], ref[len(ref)-1], "zzzz"} {
		var got []string
		s.Ascend(after, after != "", func(k string) bool { got = append(got, k); return len(got) < 50 })
		var want []string
		for _, k := range ref {
			if (after == "" || k > after) && len(want) < 50 {
				want = append(want, k)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Ascend after %q: got %v, want %v", after, got, want)
		}
	}
}

// checkChunks checks the chunk invariants: none empty, none past its
// capacity of sortedChunk, and ascending across chunks.
func checkChunks[K any](t *testing.T, s *sortedSet[K]) {
	t.Helper()
	n := 0
	for i, c := range s.chunks {
		if len(c) == 0 || len(c) > sortedChunk || cap(c) != sortedChunk {
			t.Fatalf("chunk %d: len %d cap %d, want 1..%d and cap %d", i, len(c), cap(c), sortedChunk, sortedChunk)
		}
		for j := 1; j < len(c); j++ {
			if s.cmp(c[j-1], c[j]) >= 0 {
				t.Fatalf("chunk %d out of order at %d", i, j)
			}
		}
		if i > 0 && s.cmp(s.chunks[i-1][len(s.chunks[i-1])-1], c[0]) >= 0 {
			t.Fatalf("chunks %d and %d out of order", i-1, i)
		}
		n += len(c)
	}
	if n != s.n {
		t.Fatalf("chunks hold %d, Len %d", n, s.n)
	}
}

// Keys that arrive in order inside ranges (each project's names, the
// projects interleaved) fill their chunks instead of leaving half-empty
// halves behind, and random inserts never grow a chunk past its array.
func TestSortedSetChunksStayWithinTheirArrays(t *testing.T) {
	tests := []struct {
		name    string
		key     func(i int) string
		minFill float64
	}{
		{"interleaved ranges in order", func(i int) string { return fmt.Sprintf("p%02d/%07d", i%50, i/50) }, 0.8},
		{"random", func(i int) string { return fmt.Sprintf("%08x", (uint32(i)*2654435761)>>1) }, 0.55},
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
			fill := float64(n) / float64(len(s.chunks)*sortedChunk)
			t.Logf("chunks %.0f%% full", 100*fill)
			if fill < tc.minFill {
				t.Fatalf("chunks %.0f%% full, want at least %.0f%%", 100*fill, 100*tc.minFill)
			}
			all := s.All()
			if !slices.IsSorted(all) || len(all) != n {
				t.Fatalf("%d elements, sorted %v", len(all), slices.IsSorted(all))
			}
		})
	}
}
