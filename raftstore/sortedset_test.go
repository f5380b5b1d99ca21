package raftstore

import (
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
