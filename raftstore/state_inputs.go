package raftstore

import (
	"hash/maphash"
	"maps"
)

// inputTable shares executions' input maps: executions whose Inputs are
// equal hold one map. A Go map of a few entries costs about 300 bytes, as
// much as the rest of a queued execution's own data, and inputs repeat
// across the executions of a schedule, a backfill or a fan-out of shards.
//
// Unlike the spec pool (specpool.go), which holds DAGs weakly, the table
// counts references: an execution acquires its map when it enters the state
// and releases it when it leaves (archived), and the FSM is the only writer
// of both. A map value cannot be held weakly without relying on how the
// runtime represents maps. A wrong count could only keep an entry too long
// or share too little, never change an execution's inputs: the table hands
// out maps that nobody mutates and hands each caller the map that is equal
// to its own.
type inputTable struct {
	seed    maphash.Seed
	buckets map[uint64][]*sharedInputs
}

// sharedInputs is one shared map and how many executions hold it.
type sharedInputs struct {
	m    map[string]string
	refs int
}

func newInputTable() inputTable {
	return inputTable{seed: maphash.MakeSeed(), buckets: map[uint64][]*sharedInputs{}}
}

// acquire returns the shared map equal to m, counting one more holder. On a
// miss it stores a copy (keys and values interned), never m itself: m may
// still belong to a proposer. An empty map becomes nil, which JSON renders
// alike (Inputs is omitempty).
func (t *inputTable) acquire(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	h := t.hash(m)
	for _, e := range t.buckets[h] {
		if maps.Equal(e.m, m) {
			e.refs++
			return e.m
		}
	}
	e := &sharedInputs{m: internMap(m), refs: 1}
	t.buckets[h] = append(t.buckets[h], e)
	return e.m
}

// release counts one holder of m fewer and forgets the map when none is
// left.
func (t *inputTable) release(m map[string]string) {
	if len(m) == 0 {
		return
	}
	h := t.hash(m)
	b := t.buckets[h]
	for i, e := range b {
		if !maps.Equal(e.m, m) {
			continue
		}
		if e.refs--; e.refs > 0 {
			return
		}
		if len(b) == 1 {
			delete(t.buckets, h)
			return
		}
		b[i] = b[len(b)-1]
		b[len(b)-1] = nil
		t.buckets[h] = b[:len(b)-1]
		return
	}
}

func (t *inputTable) hash(m map[string]string) uint64 { return hashStringMap(t.seed, m) }
