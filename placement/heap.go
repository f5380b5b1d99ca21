package placement

// heapEntry is a cluster in a shape's heap. key is a lower bound of the
// cluster's current Total for the shape, exact while ver matches the
// cluster's version.
type heapEntry struct {
	key float64
	idx int32
	ver uint32
}

func (a heapEntry) less(b heapEntry) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.idx < b.idx
}

// clusterHeap is a binary min-heap of heapEntry, typed to avoid the
// interface calls of container/heap on the hot path.
type clusterHeap []heapEntry

func (h *clusterHeap) push(e heapEntry) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes the top entry.
func (h *clusterHeap) pop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.down(0)
}

// fixTop restores the heap after the top entry's key grew.
func (h *clusterHeap) fixTop() { h.down(0) }

func (h *clusterHeap) down(i int) {
	s := *h
	n := len(s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s[r].less(s[l]) {
			m = r
		}
		if !s[m].less(s[i]) {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}

// init heapifies entries in place.
func (h *clusterHeap) init() {
	for i := len(*h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}
