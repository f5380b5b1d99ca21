package federation

import (
	"sync"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Submissions repeat their workflow: a platform launches one workflow
// thousands of times with other names and inputs, from a client that
// renders it to the same bytes each time. Decoding those bytes into nodes,
// maps and strings was most of decoding a submission, so strictJSON looks a
// workflow's JSON up in requestWorkflows first, and decodes it only when
// it has not seen those bytes.
//
// What the cache hands out is shared by every request with the same
// workflow bytes: nothing on the submit path changes a spec's nodes
// (validation reads them, the canonical rendering reads them, and the
// state keeps the spec pool's copy, never the proposer's).

// requestWorkflowsMax bounds the cache: at that many workflows it starts
// over, so distinct workflows cannot grow it without bound.
const requestWorkflowsMax = 1024

var requestWorkflows = &workflowCache{m: map[string][]v1.TaskNode{}}

type workflowCache struct {
	mu sync.RWMutex
	m  map[string][]v1.TaskNode
}

func (c *workflowCache) get(raw []byte) ([]v1.TaskNode, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	nodes, ok := c.m[string(raw)]
	return nodes, ok
}

func (c *workflowCache) put(raw []byte, nodes []v1.TaskNode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= requestWorkflowsMax {
		clear(c.m)
	}
	c.m[string(raw)] = nodes
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
	if nodes, ok := requestWorkflows.get(raw); ok {
		w.Nodes = nodes
		return
	}
	var plain plainWorkflow
	if err := strictJSON.Unmarshal(raw, &plain); err != nil {
		iter.ReportError("decode workflow", err.Error())
		return
	}
	*w = v1.WorkflowSpec(plain)
	if len(w.Nodes) > 0 {
		requestWorkflows.put(raw, w.Nodes)
	}
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
