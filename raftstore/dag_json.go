package raftstore

import (
	"hash/maphash"
	"slices"
	"sync"
	"unsafe"
	"weak"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Executions of one workflow carry the same DAG, and the leader encodes it
// canonically, so its JSON in the log and in snapshots is the same bytes
// every time. Decoding those bytes into nodes, maps and strings was most
// of a follower's cost of applying a submission, only for the spec pool to
// find the copy it already shares. So the decoder looks a workflow's JSON
// up first: when the pool's copy of a DAG decoded from the same bytes is
// still alive, that copy is the result, and the bytes are not decoded.
//
// The result is the pool's shared, immutable copy, like everything the
// state keeps after shareSpec; every decode in this package (log entries,
// snapshot records, the archive) ends in the state or in an answer that is
// only encoded.

// dagsByJSON is process-wide, like the pool whose copies it names.
var dagsByJSON = newJSONShared[v1.TaskNode]()

// selectorsByJSON names the pool's selectors by JSON the same way, for the
// log entries decodeEntryFast decodes (entry_decode.go): a selector is
// looked up there only when the pool's copy is exactly what the JSON
// decodes to.
var selectorsByJSON = newJSONShared[v1.LabelSelector]()

// jsonShared names arrays the spec pool shares by the JSON they were
// decoded from (a selector is an array of one).
type jsonShared[T any] struct {
	seed maphash.Seed

	mu sync.Mutex
	m  map[uint64][]jsonEntry[T]
	// added counts insertions since the last sweep of dead entries.
	added int
}

func newJSONShared[T any]() *jsonShared[T] {
	return &jsonShared[T]{seed: maphash.MakeSeed(), m: map[uint64][]jsonEntry[T]{}}
}

// jsonEntry is a JSON document and a weak reference to the pool's copy of
// what it decodes to.
type jsonEntry[T any] struct {
	raw   string
	first weak.Pointer[T]
	n     int
}

// get returns the live pooled array decoded from raw, if there is one; h
// is raw's hash with c.seed.
func (c *jsonShared[T]) get(h uint64, raw []byte) ([]T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.m[h] {
		if d.raw != string(raw) {
			continue
		}
		if first := d.first.Value(); first != nil {
			return unsafe.Slice(first, d.n), true
		}
	}
	return nil, false
}

// put remembers that raw decodes to the pooled array vs.
func (c *jsonShared[T]) put(h uint64, raw []byte, vs []T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := slices.DeleteFunc(c.m[h], func(d jsonEntry[T]) bool { return d.raw == string(raw) || d.first.Value() == nil })
	c.m[h] = append(ds, jsonEntry[T]{raw: string(raw), first: weak.Make(&vs[0]), n: len(vs)})
	c.added++
	if c.added < 1024 || c.added < len(c.m) {
		return
	}
	// As many added as held: drop the dead, so the cache stays within a
	// small factor of the live arrays.
	c.added = 0
	dropDead(c.m, func(d jsonEntry[T]) bool { return d.first.Value() == nil })
}

// plainWorkflow is a WorkflowSpec decoded field by field, without the
// lookup (the extension below is registered for WorkflowSpec only).
type plainWorkflow v1.WorkflowSpec

// workflowDecoder decodes a WorkflowSpec through dagsByJSON.
type workflowDecoder struct{}

func (workflowDecoder) Decode(ptr unsafe.Pointer, iter *jsoniter.Iterator) {
	raw := iter.SkipAndReturnBytes()
	if iter.Error != nil {
		return
	}
	w := (*v1.WorkflowSpec)(ptr)
	h := maphash.Bytes(dagsByJSON.seed, raw)
	if nodes, ok := dagsByJSON.get(h, raw); ok {
		w.Nodes = nodes
		return
	}
	var plain plainWorkflow
	if err := fastJSON.Unmarshal(raw, &plain); err != nil {
		iter.ReportError("decode workflow", err.Error())
		return
	}
	*w = v1.WorkflowSpec(plain)
	if len(w.Nodes) == 0 {
		return
	}
	w.Nodes = pool.dag(w.Nodes, false)
	dagsByJSON.put(h, raw, w.Nodes)
}

// dagJSONExtension hands WorkflowSpec to workflowDecoder.
type dagJSONExtension struct{ jsoniter.DummyExtension }

var workflowType = reflect2.TypeOf(v1.WorkflowSpec{})

func (*dagJSONExtension) CreateDecoder(typ reflect2.Type) jsoniter.ValDecoder {
	if typ == workflowType {
		return workflowDecoder{}
	}
	return nil
}
