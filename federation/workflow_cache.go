package federation

import (
	"sync"
	"sync/atomic"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Submissions repeat their workflow: a platform launches one workflow
// thousands of times with other names and inputs, from a client that
// renders it to the same bytes each time. Decoding those bytes into nodes,
// maps and strings was most of decoding a submission, and rendering the
// nodes most of rendering the spec's canonical JSON, so the submit path
// looks a workflow's JSON up in requestWorkflows first: a hit gives both
// the decoded nodes and their canonical JSON.
//
// Only the workflows of accepted specs are cached (decodeSubmission puts
// them once the spec is validated): a refused body never takes a place.
// What the cache hands out is shared by every request with the same
// workflow bytes: nothing on the submit path changes a spec's nodes
// (validation reads them, the canonical rendering reads them, and the
// state keeps the spec pool's copy, never the proposer's).

// requestWorkflowsMax and requestWorkflowsMaxBytes bound the cache: at
// that many workflows, or that many bytes of their JSON (raw and
// canonical), it starts over, so distinct workflows cannot grow it without
// bound. A workflow larger than the byte bound alone is not cached.
const (
	requestWorkflowsMax      = 1024
	requestWorkflowsMaxBytes = 32 << 20
)

var requestWorkflows = newWorkflowCache()

// cachedWorkflow is a workflow as its bytes (raw, the cache's key) decode:
// its nodes, and their canonical JSON (v1.WorkflowSpec.AppendCanonical).
// None of them may change.
type cachedWorkflow struct {
	raw       string
	nodes     []v1.TaskNode
	canonical []byte
}

type workflowCache struct {
	mu    sync.RWMutex
	m     map[string]*cachedWorkflow
	bytes int // of the keys and canonical renderings in m

	// last is the entry a lookup found last: most submissions repeat the
	// workflow of the one before, and find it by prefix (lookupPrefix)
	// without first scanning the body for the workflow's end.
	last atomic.Pointer[cachedWorkflow]
}

func newWorkflowCache() *workflowCache {
	return &workflowCache{m: map[string]*cachedWorkflow{}}
}

func (c *workflowCache) get(raw []byte) (*cachedWorkflow, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.m[string(raw)]
	return e, ok
}

// getPrefix returns the entry whose bytes begin b, if it is the entry a
// lookup found last. As a cached workflow is a whole JSON object, the
// object at the start of b is then exactly those bytes, whatever follows.
func (c *workflowCache) getPrefix(b []byte) (*cachedWorkflow, bool) {
	e := c.last.Load()
	if e == nil || len(b) < len(e.raw) || string(b[:len(e.raw)]) != e.raw {
		return nil, false
	}
	return e, true
}

// lookup is get that remembers what it found for getPrefix.
func (c *workflowCache) lookup(raw []byte) (*cachedWorkflow, bool) {
	e, ok := c.get(raw)
	if ok && c.last.Load() != e {
		c.last.Store(e)
	}
	return e, ok
}

// put caches the workflow that raw decodes to: nodes, whose canonical JSON
// is canonical. The workflow must be part of an accepted spec.
func (c *workflowCache) put(raw []byte, nodes []v1.TaskNode, canonical []byte) {
	size := len(raw) + len(canonical)
	if size > requestWorkflowsMaxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[string(raw)]; ok {
		c.bytes -= len(raw) + len(old.canonical)
	}
	if len(c.m) >= requestWorkflowsMax || c.bytes+size > requestWorkflowsMaxBytes {
		clear(c.m)
		c.bytes = 0
		c.last.Store(nil)
	}
	key := string(raw)
	c.m[key] = &cachedWorkflow{raw: key, nodes: nodes, canonical: canonical}
	c.bytes += size
}

// plainWorkflow is a WorkflowSpec decoded field by field (the extension
// is registered for WorkflowSpec only).
type plainWorkflow v1.WorkflowSpec

type requestWorkflowDecoder struct{}

func (requestWorkflowDecoder) Decode(ptr unsafe.Pointer, iter *jsoniter.Iterator) {
	raw := iter.SkipAndReturnBytes()
	if iter.Error != nil {
		return
	}
	w := (*v1.WorkflowSpec)(ptr)
	if e, ok := requestWorkflows.get(raw); ok {
		w.Nodes = e.nodes
		return
	}
	var plain plainWorkflow
	if err := strictJSON.Unmarshal(raw, &plain); err != nil {
		iter.ReportError("decode workflow", err.Error())
		return
	}
	*w = v1.WorkflowSpec(plain)
}

// requestWorkflowExtension hands WorkflowSpec to requestWorkflowDecoder.
type requestWorkflowExtension struct{ jsoniter.DummyExtension }

var workflowType = reflect2.TypeOf(v1.WorkflowSpec{})

func (*requestWorkflowExtension) CreateDecoder(typ reflect2.Type) jsoniter.ValDecoder {
	if typ == workflowType {
		return requestWorkflowDecoder{}
	}
	return nil
}
