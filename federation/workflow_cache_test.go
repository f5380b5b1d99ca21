package federation

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// Accepted bodies with the same workflow bytes share one decoded DAG and
// its rendering; other bytes decode on their own; a workflow the strict
// decoder refuses is refused every time, with the reference decoder's
// message; the workflow of a refused spec is never cached.
func TestRequestWorkflowsDecodeOnce(t *testing.T) {
	body := func(name, workflow string) []byte {
		return []byte(`{"project":"p","domain":"d","name":"` + name + `","workflow":` + workflow + `}`)
	}
	const wf = `{"nodes":[{"id":"cache-test-a","image":"busybox","command":["true"]}]}`
	s := &Server{cfg: DefaultConfig()}
	decode := func(b []byte) (v1.ExecutionSpec, []byte, error) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
		return s.decodeSubmission(httptest.NewRecorder(), r)
	}
	a, aJSON, err := decode(body("a", wf))
	if err != nil {
		t.Fatal(err)
	}
	b, bJSON, err := decode(body("b", wf))
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "b" || unsafe.SliceData(a.Workflow.Nodes) != unsafe.SliceData(b.Workflow.Nodes) {
		t.Fatal("the same workflow bytes decoded twice")
	}
	// The cache holds the state's shared copy: the leader's FSM knows it
	// by its address.
	if shared := raftstore.ShareWorkflow(slices.Clone(a.Workflow.Nodes)); unsafe.SliceData(shared) != unsafe.SliceData(a.Workflow.Nodes) {
		t.Fatal("the cached workflow is not the state's shared copy")
	}
	if want, _ := json.Marshal(&b.Workflow); string(aJSON) != string(want) || unsafe.SliceData(aJSON) != unsafe.SliceData(bJSON) {
		t.Fatalf("workflow renderings %s and %s, want %s once", aJSON, bJSON, want)
	}
	// The reference path (an escape in a key leaves the body to it) finds
	// the cached workflow too.
	var viaRef v1.ExecutionSpec
	if err := decodeBytes([]byte(`{"\u0070roject":"p","workflow":`+wf+`}`), &viaRef, 1<<20); err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(viaRef.Workflow.Nodes) != unsafe.SliceData(a.Workflow.Nodes) {
		t.Fatal("the reference path decoded a cached workflow again")
	}
	other, _, err := decode(body("c", strings.Replace(wf, "cache-test-a", "cache-test-b", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if other.Workflow.Nodes[0].ID != "cache-test-b" || unsafe.SliceData(other.Workflow.Nodes) == unsafe.SliceData(a.Workflow.Nodes) {
		t.Fatalf("another workflow decoded to %+v", other.Workflow.Nodes)
	}
	bad := body("d", `{"nodes":[{"id":"cache-test-c","image":"busybox","colour":"red"}]}`)
	for range 2 {
		if _, _, err := decode(bad); err == nil || !strings.Contains(err.Error(), "colour") {
			t.Fatalf("unknown field in a node: %v", err)
		}
	}
	for _, refused := range []string{
		`{"nodes":[{"id":"cache-test-d","image":"busybox","dependsOn":["cache-test-d"]}]}`, // invalid workflow
		`{"nodes":[{"id":"cache-test-e","image":"busybox"}]}`,                              // invalid spec around it
	} {
		name := "e"
		if strings.Contains(refused, "cache-test-e") {
			name = "Not_A_Name"
		}
		if _, _, err := decode(body(name, refused)); err == nil {
			t.Fatalf("%s accepted", refused)
		}
		if _, ok := requestWorkflows.get([]byte(refused)); ok {
			t.Fatalf("the workflow of a refused spec is cached: %s", refused)
		}
	}
}

func TestWorkflowCacheBounds(t *testing.T) {
	c := newWorkflowCache()
	nodes := []v1.TaskNode{{ID: "a", Image: "i"}}
	for i := range requestWorkflowsMax + 10 {
		c.put([]byte(strings.Repeat("x", i+1)), nodes, []byte("{}"))
		if len(c.m) > requestWorkflowsMax {
			t.Fatalf("%d workflows cached, at most %d", len(c.m), requestWorkflowsMax)
		}
	}
	big := bytes.Repeat([]byte("y"), requestWorkflowsMaxBytes/3)
	for i := range 10 {
		big[0] = byte('a' + i)
		c.put(big, nodes, []byte("{}"))
		if c.bytes > requestWorkflowsMaxBytes {
			t.Fatalf("%d bytes cached, at most %d", c.bytes, requestWorkflowsMaxBytes)
		}
	}
	n := 0
	for k, e := range c.m {
		n += len(k) + len(e.canonical)
	}
	if n != c.bytes {
		t.Fatalf("the cache counts %d bytes, holds %d", c.bytes, n)
	}
	c.put(make([]byte, requestWorkflowsMaxBytes+1), nodes, nil)
	if _, ok := c.get(make([]byte, requestWorkflowsMaxBytes+1)); ok {
		t.Fatal("a workflow over the byte bound is cached")
	}
}

// Run with -race: submissions share the cache.
func TestWorkflowCacheConcurrent(t *testing.T) {
	s := &Server{cfg: DefaultConfig()}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				spec := readmeSpec("eta-model-race")
				spec.Workflow.Nodes[0].Image = "python:3." + string(rune('0'+(i+g)%7))
				b, _ := json.Marshal(spec)
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
				got, workflow, err := s.decodeSubmission(httptest.NewRecorder(), r)
				if err != nil {
					t.Error(err)
					return
				}
				if c := got.CanonicalWith(workflow); string(c) != string(got.Canonical()) {
					t.Errorf("canonical %s, want %s", c, got.Canonical())
					return
				}
			}
		})
	}
	wg.Wait()
}
