package raftstore

import "sort"

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
	c = append(c, k)
	copy(c[i+1:], c[i:])
	c[i] = k
	s.chunks[ci] = c
	s.n++
	if len(c) > sortedChunk {
		// Split in two halves so both have room.
		half := len(c) / 2
		right := make([]K, len(c)-half, sortedChunk)
		copy(right, c[half:])
		clear(c[half:])
		s.chunks[ci] = c[:half]
		s.chunks = append(s.chunks, nil)
		copy(s.chunks[ci+2:], s.chunks[ci+1:])
		s.chunks[ci+1] = right
	}
	return true
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
