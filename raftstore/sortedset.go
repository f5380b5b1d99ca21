package raftstore

import (
	"slices"
	"sort"
)

// sortedChunk bounds a chunk of a sortedSet. Inserting moves at most this
// many elements, and a million elements need only ~4000 chunks.
const sortedChunk = 256

// sortedSet is an ordered set kept as a list of sorted chunks: O(log n)
// lookup, O(sortedChunk) insert and delete, and iteration from any element.
// It backs every index of State, where a plain sorted slice would move
// megabytes per insert at a million executions. Not safe for concurrent
// writes; State's lock guards it.
type sortedSet[K any] struct {
	cmp    func(a, b K) int
	chunks [][]K
	n      int
}

func newSortedSet[K any](cmp func(a, b K) int) *sortedSet[K] {
	return &sortedSet[K]{cmp: cmp}
}

// Len returns the number of elements.
func (s *sortedSet[K]) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// chunkFor returns the index of the first chunk whose last element is >= k,
// or len(chunks) when k is beyond every element.
func (s *sortedSet[K]) chunkFor(k K) int {
	return sort.Search(len(s.chunks), func(i int) bool {
		c := s.chunks[i]
		return s.cmp(c[len(c)-1], k) >= 0
	})
}

// Insert adds k; it reports false if k was already there.
func (s *sortedSet[K]) Insert(k K) bool {
	ci := s.chunkFor(k)
	if ci == len(s.chunks) {
		// Beyond every element: append to the last chunk (the common case
		// when keys arrive in order, as in Restore).
		if ci == 0 || len(s.chunks[ci-1]) >= sortedChunk {
			s.chunks = append(s.chunks, make([]K, 0, sortedChunk))
			ci++
		}
		ci--
		s.chunks[ci] = append(s.chunks[ci], k)
		s.n++
		return true
	}
	c := s.chunks[ci]
	i := sort.Search(len(c), func(i int) bool { return s.cmp(c[i], k) >= 0 })
	if i < len(c) && s.cmp(c[i], k) == 0 {
		return false
	}
	s.n++
	if i == 0 && ci > 0 {
		// k falls between two chunks (keys arriving in order inside a
		// range, like one project's names): it ends the previous chunk,
		// or starts a chunk of its own when that one is full, so such
		// chunks fill up instead of splitting in halves that stay half
		// empty.
		if prev := s.chunks[ci-1]; len(prev) < sortedChunk {
			s.chunks[ci-1] = append(prev, k)
		} else {
			s.insertChunk(ci, k)
		}
		return true
	}
	if len(c) == sortedChunk {
		// Full: split in two, each part in an array of sortedChunk, so
		// that no chunk ever grows past its capacity (growing would double
		// the array and leave it mostly empty after the split). Keys in
		// order inside ranges fill 85% of their chunks this way, random
		// keys 60% (TestSortedSetChunksStayWithinTheirArrays).
		half := len(c) / 2
		if i >= sortedChunk/8 && i <= sortedChunk-sortedChunk/8 {
			// At k's place: when keys arrive in order inside a range
			// that ends in this chunk, the left part is the range and
			// goes on filling, the right part is the next range's head.
			half = i
		}
		right := make([]K, len(c)-half, sortedChunk)
		copy(right, c[half:])
		clear(c[half:])
		s.chunks[ci] = c[:half]
		s.chunks = slices.Insert(s.chunks, ci+1, right)
		if i > half {
			ci, i = ci+1, i-half
		}
		c = s.chunks[ci]
	}
	c = append(c, k)
	copy(c[i+1:], c[i:])
	c[i] = k
	s.chunks[ci] = c
	return true
}

// insertChunk puts a new chunk holding k at index ci.
func (s *sortedSet[K]) insertChunk(ci int, k K) {
	c := make([]K, 1, sortedChunk)
	c[0] = k
	s.chunks = slices.Insert(s.chunks, ci, c)
}

// Delete removes k; it reports false if k was not there.
func (s *sortedSet[K]) Delete(k K) bool {
	if s == nil {
		return false
	}
	ci := s.chunkFor(k)
	if ci == len(s.chunks) {
		return false
	}
	c := s.chunks[ci]
	i := sort.Search(len(c), func(i int) bool { return s.cmp(c[i], k) >= 0 })
	if i == len(c) || s.cmp(c[i], k) != 0 {
		return false
	}
	copy(c[i:], c[i+1:])
	var zero K
	c[len(c)-1] = zero
	c = c[:len(c)-1]
	s.n--
	if len(c) == 0 {
		s.chunks = append(s.chunks[:ci], s.chunks[ci+1:]...)
		return true
	}
	s.chunks[ci] = c
	return true
}

// Has reports whether k is in the set.
func (s *sortedSet[K]) Has(k K) bool {
	if s == nil {
		return false
	}
	ci := s.chunkFor(k)
	if ci == len(s.chunks) {
		return false
	}
	c := s.chunks[ci]
	i := sort.Search(len(c), func(i int) bool { return s.cmp(c[i], k) >= 0 })
	return i < len(c) && s.cmp(c[i], k) == 0
}

// Ascend calls fn for each element in order, starting after `after` when
// hasAfter is set, until fn returns false.
func (s *sortedSet[K]) Ascend(after K, hasAfter bool, fn func(K) bool) {
	if s == nil {
		return
	}
	ci, i := 0, 0
	if hasAfter {
		ci = sort.Search(len(s.chunks), func(j int) bool {
			c := s.chunks[j]
			return s.cmp(c[len(c)-1], after) > 0
		})
		if ci < len(s.chunks) {
			c := s.chunks[ci]
			i = sort.Search(len(c), func(j int) bool { return s.cmp(c[j], after) > 0 })
		}
	}
	for ; ci < len(s.chunks); ci, i = ci+1, 0 {
		for _, k := range s.chunks[ci][i:] {
			if !fn(k) {
				return
			}
		}
	}
}

// All returns every element in order.
func (s *sortedSet[K]) All() []K {
	out := make([]K, 0, s.Len())
	var zero K
	s.Ascend(zero, false, func(k K) bool { out = append(out, k); return true })
	return out
}
