package raftstore

import "slices"

// sortedChunk is the capacity of a chunk of a sortedSet: inserting or
// deleting moves at most this many elements. 255 rather than 256 because
// the allocator adds an 8-byte header to arrays of more than 512 bytes that
// hold pointers: 256 strings (4096 bytes) would land in the 4864-byte size
// class and waste 16%, while 255 elements of 16, 24 or 32 bytes (string,
// assignedItem and cacheItem, queueItem) fill the 4096, 6144 and 8192-byte
// classes.
const sortedChunk = 255

// sortedBlock is the most chunks a block of a sortedSet holds: adding or
// removing a chunk moves at most this many chunk headers. A million
// elements make 4000 to 6500 chunks in 50 to 70 blocks.
const sortedBlock = 128

// sortedSet is an ordered set kept as sorted chunks grouped in blocks, a
// two-level B+tree: O(log n) lookup, O(sortedChunk + sortedBlock) insert
// and delete, and iteration from any element. It backs every index of
// State, where a plain sorted slice would move megabytes per insert at a
// million executions. Lookups binary-search contiguous slices of last
// elements (one per block, then one per chunk of the block), so a probe
// reads one element rather than a chunk header and then an element, and
// adding a chunk moves a block's headers, not the whole set's. Not safe
// for concurrent writes; State's lock guards it.
type sortedSet[K any] struct {
	cmp    func(a, b K) int
	blocks []sortedSetBlock[K]
	last   []K // last[b] is the last element of blocks[b]
	n      int
}

// sortedSetBlock holds 1..sortedBlock chunks, each of 1..sortedChunk elements
// in an array of sortedChunk that it never grows past.
type sortedSetBlock[K any] struct {
	chunks [][]K
	last   []K // last[c] is the last element of chunks[c]
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

// find returns the index of the first of the sorted keys that is >= k, or
// len(keys), and whether that key is k.
func (s *sortedSet[K]) find(keys []K, k K) (int, bool) {
	lo, hi := 0, len(keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := s.cmp(keys[m], k); {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		default:
			return m, true
		}
	}
	return lo, false
}

// locate returns the block and chunk that hold k or would hold it when k is
// not beyond every element, k's place in that chunk, and whether k is
// there. bi is len(blocks) when k is beyond every element. With head, it
// compares k with the chunk's first element before searching the chunk:
// keys inserted in order inside ranges mostly fall between two chunks.
//
// It compares k with the last and the first element before searching:
// the queue and the assigned-by-time index add past their last element
// and remove their first, and Restore adds in order, so these take one or
// two comparisons instead of the ~20 of the search, which are cache misses
// on a large set.
func (s *sortedSet[K]) locate(k K, head bool) (bi, ci, i int, found bool) {
	nb := len(s.blocks)
	if nb == 0 {
		return 0, 0, 0, false
	}
	switch c := s.cmp(k, s.last[nb-1]); {
	case c > 0:
		return nb, 0, 0, false
	case c == 0:
		b := &s.blocks[nb-1]
		ci = len(b.chunks) - 1
		return nb - 1, ci, len(b.chunks[ci]) - 1, true
	}
	if c := s.cmp(k, s.blocks[0].chunks[0][0]); c <= 0 {
		return 0, 0, 0, c == 0
	}
	// k is below the last block's last element: the search can leave
	// that block out.
	bi, found = s.find(s.last[:nb-1], k)
	b := &s.blocks[bi]
	if found {
		ci = len(b.chunks) - 1
		return bi, ci, len(b.chunks[ci]) - 1, true
	}
	ci, found = s.find(b.last, k)
	c := b.chunks[ci]
	if found {
		return bi, ci, len(c) - 1, true
	}
	if head {
		if d := s.cmp(k, c[0]); d <= 0 {
			return bi, ci, 0, d == 0
		}
		i, found = s.find(c[1:], k)
		return bi, ci, i + 1, found
	}
	i, found = s.find(c, k)
	return bi, ci, i, found
}

// Insert adds k; it reports false if k was already there.
func (s *sortedSet[K]) Insert(k K) bool {
	bi, ci, i, found := s.locate(k, true)
	if found {
		return false
	}
	s.n++
	if bi == len(s.blocks) {
		// Beyond every element: append to the last chunk (the common case
		// when keys arrive in order, as in Restore).
		s.appendMax(k)
		return true
	}
	b := &s.blocks[bi]
	if i == 0 && (ci > 0 || bi > 0) {
		// k falls between two chunks (keys arriving in order inside a
		// range, like one project's names): it ends the previous chunk,
		// or starts a chunk of its own when that one is full, so such
		// chunks fill up instead of splitting in halves that stay half
		// empty.
		pbi, pci := bi, ci-1
		if ci == 0 {
			pbi, pci = bi-1, len(s.blocks[bi-1].chunks)-1
		}
		pb := &s.blocks[pbi]
		if prev := pb.chunks[pci]; len(prev) < sortedChunk {
			pb.chunks[pci] = insertAt(prev, len(prev), k)
			s.setLast(pbi, pci)
		} else {
			c := make([]K, 1, sortedChunk)
			c[0] = k
			s.insertChunk(bi, ci, c)
		}
		return true
	}
	c := b.chunks[ci]
	if len(c) < sortedChunk {
		// i < len(c): the chunk's last element stays.
		b.chunks[ci] = insertAt(c, i, k)
		return true
	}
	// Full: split in two, each part in an array of sortedChunk, so that no
	// chunk ever grows past its capacity (growing would double the array
	// and leave it mostly empty after the split). Keys in order inside
	// ranges fill 85% of their chunks this way, random keys 60%
	// (TestSortedSetChunksStayWithinTheirArrays).
	half := len(c) / 2
	if i >= sortedChunk/8 && i <= sortedChunk-sortedChunk/8 {
		// At k's place: when keys arrive in order inside a range that
		// ends in this chunk, the left part is the range and goes on
		// filling, the right part is the next range's head.
		half = i
	}
	right := make([]K, len(c)-half, sortedChunk)
	copy(right, c[half:])
	clear(c[half:])
	c = c[:half]
	if i > half {
		right = insertAt(right, i-half, k)
	} else {
		c = insertAt(c, i, k)
	}
	b.chunks[ci] = c
	s.setLast(bi, ci)
	s.insertChunk(bi, ci+1, right)
	return true
}

// insertAt inserts k at index i of c, which must have room for it: a chunk
// never grows past its array.
func insertAt[K any](c []K, i int, k K) []K {
	c = c[:len(c)+1]
	copy(c[i+1:], c[i:])
	c[i] = k
	return c
}

// appendMax adds k, greater than every element, at the end.
func (s *sortedSet[K]) appendMax(k K) {
	if len(s.blocks) == 0 {
		c := make([]K, 1, sortedChunk)
		c[0] = k
		s.blocks = append(s.blocks, sortedSetBlock[K]{chunks: [][]K{c}, last: []K{k}})
		s.last = append(s.last, k)
		return
	}
	bi := len(s.blocks) - 1
	b := &s.blocks[bi]
	ci := len(b.chunks) - 1
	if c := b.chunks[ci]; len(c) < sortedChunk {
		b.chunks[ci] = insertAt(c, len(c), k)
		b.last[ci] = k
		s.last[bi] = k
		return
	}
	c := make([]K, 1, sortedChunk)
	c[0] = k
	s.insertChunk(bi, ci+1, c)
}

// setLast records the last element of chunk ci of block bi after it
// changed.
func (s *sortedSet[K]) setLast(bi, ci int) {
	b := &s.blocks[bi]
	c := b.chunks[ci]
	b.last[ci] = c[len(c)-1]
	if ci == len(b.chunks)-1 {
		s.last[bi] = b.last[ci]
	}
}

// insertChunk puts chunk c at index ci of block bi, splitting the block
// when it is full.
func (s *sortedSet[K]) insertChunk(bi, ci int, c []K) {
	if b := &s.blocks[bi]; len(b.chunks) >= sortedBlock {
		if ci == len(b.chunks) {
			// At the block's end (keys arriving in order): c starts a
			// block of its own and this one stays full.
			s.blocks = slices.Insert(s.blocks, bi+1, sortedSetBlock[K]{
				chunks: append(make([][]K, 0, sortedBlock), c),
				last:   append(make([]K, 0, sortedBlock), c[len(c)-1]),
			})
			s.last = slices.Insert(s.last, bi+1, c[len(c)-1])
			return
		}
		half := len(b.chunks) / 2
		right := sortedSetBlock[K]{
			chunks: append(make([][]K, 0, sortedBlock), b.chunks[half:]...),
			last:   append(make([]K, 0, sortedBlock), b.last[half:]...),
		}
		clear(b.chunks[half:])
		clear(b.last[half:])
		b.chunks, b.last = b.chunks[:half], b.last[:half]
		s.blocks = slices.Insert(s.blocks, bi+1, right)
		s.last = slices.Insert(s.last, bi+1, s.last[bi])
		s.last[bi] = s.blocks[bi].last[half-1]
		if ci > half {
			bi, ci = bi+1, ci-half
		}
	}
	b := &s.blocks[bi]
	b.chunks = slices.Insert(b.chunks, ci, c)
	b.last = slices.Insert(b.last, ci, c[len(c)-1])
	s.last[bi] = b.last[len(b.last)-1]
}

// Delete removes k; it reports false if k was not there.
func (s *sortedSet[K]) Delete(k K) bool {
	if s == nil {
		return false
	}
	bi, ci, i, found := s.locate(k, false)
	if !found {
		return false
	}
	s.n--
	b := &s.blocks[bi]
	c := b.chunks[ci]
	copy(c[i:], c[i+1:])
	var zero K
	c[len(c)-1] = zero
	c = c[:len(c)-1]
	b.chunks[ci] = c
	switch {
	case len(c) == 0:
		s.removeChunk(bi, ci)
	case len(c) <= sortedChunk/4:
		if i == len(c) {
			s.setLast(bi, ci)
		}
		s.mergeChunk(bi, ci)
	case i == len(c):
		s.setLast(bi, ci)
	}
	return true
}

// mergeChunk merges chunk ci of block bi, which has few elements left, with
// a neighbour in its block when both fit in half a chunk. Random deletes
// thus leave no chunk pair less than a quarter full, and since a merged
// chunk needs half a chunk of inserts to split again, deletes and inserts
// around the threshold do not alternate merges and splits.
func (s *sortedSet[K]) mergeChunk(bi, ci int) {
	b := &s.blocks[bi]
	c := b.chunks[ci]
	switch {
	case ci > 0 && len(b.chunks[ci-1])+len(c) <= sortedChunk/2:
		prev := b.chunks[ci-1]
		b.chunks[ci-1] = append(prev, c...)
		b.last[ci-1] = b.last[ci]
		s.removeChunk(bi, ci)
	case ci+1 < len(b.chunks) && len(c)+len(b.chunks[ci+1]) <= sortedChunk/2:
		next := b.chunks[ci+1]
		b.chunks[ci] = append(c, next...)
		b.last[ci] = b.last[ci+1]
		s.removeChunk(bi, ci+1)
	}
}

// removeChunk drops chunk ci of block bi, then the block when it is left
// empty, or merges the block with a neighbour when both are small.
func (s *sortedSet[K]) removeChunk(bi, ci int) {
	b := &s.blocks[bi]
	b.chunks = slices.Delete(b.chunks, ci, ci+1)
	b.last = slices.Delete(b.last, ci, ci+1)
	switch n := len(b.chunks); {
	case n == 0:
		s.blocks = slices.Delete(s.blocks, bi, bi+1)
		s.last = slices.Delete(s.last, bi, bi+1)
	case n <= sortedBlock/4:
		s.last[bi] = b.last[n-1]
		if bi > 0 && len(s.blocks[bi-1].chunks)+n <= sortedBlock/2 {
			s.mergeBlocks(bi - 1)
		} else if bi+1 < len(s.blocks) && n+len(s.blocks[bi+1].chunks) <= sortedBlock/2 {
			s.mergeBlocks(bi)
		}
	default:
		s.last[bi] = b.last[n-1]
	}
}

// mergeBlocks moves the chunks of block bi+1 to the end of block bi and
// drops block bi+1.
func (s *sortedSet[K]) mergeBlocks(bi int) {
	b, next := &s.blocks[bi], &s.blocks[bi+1]
	b.chunks = append(b.chunks, next.chunks...)
	b.last = append(b.last, next.last...)
	s.last[bi] = s.last[bi+1]
	s.blocks = slices.Delete(s.blocks, bi+1, bi+2)
	s.last = slices.Delete(s.last, bi+1, bi+2)
}

// Has reports whether k is in the set.
func (s *sortedSet[K]) Has(k K) bool {
	if s == nil {
		return false
	}
	_, _, _, found := s.locate(k, false)
	return found
}

// Ascend calls fn for each element in order, starting after `after` when
// hasAfter is set, until fn returns false.
func (s *sortedSet[K]) Ascend(after K, hasAfter bool, fn func(K) bool) {
	if s == nil {
		return
	}
	bi, ci, i := 0, 0, 0
	if hasAfter {
		var found bool
		bi, ci, i, found = s.locate(after, false)
		if found {
			i++
		}
	}
	for ; bi < len(s.blocks); bi, ci = bi+1, 0 {
		chunks := s.blocks[bi].chunks
		for ; ci < len(chunks); ci, i = ci+1, 0 {
			for _, k := range chunks[ci][i:] {
				if !fn(k) {
					return
				}
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
