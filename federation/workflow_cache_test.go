package federation

import (
	"strings"
	"testing"
	"unsafe"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Bodies with the same workflow bytes share one decoded DAG; other bytes
// decode on their own; a workflow the strict decoder refuses is refused
// every time, with the reference decoder's message.
func TestRequestWorkflowsDecodeOnce(t *testing.T) {
	body := func(name, workflow string) []byte {
		return []byte(`{"project":"p","domain":"d","name":"` + name + `","workflow":` + workflow + `}`)
	}
	const wf = `{"nodes":[{"id":"cache-test-a","image":"busybox","command":["true"]}]}`
	decode := func(b []byte) (v1.ExecutionSpec, error) {
		var s v1.ExecutionSpec
		err := decodeBytes(b, &s, 1<<20)
		return s, err
	}
	a, err := decode(body("a", wf))
	if err != nil {
		t.Fatal(err)
	}
	b, err := decode(body("b", wf))
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "b" || unsafe.SliceData(a.Workflow.Nodes) != unsafe.SliceData(b.Workflow.Nodes) {
		t.Fatal("the same workflow bytes decoded twice")
	}
	other, err := decode(body("c", strings.Replace(wf, "cache-test-a", "cache-test-b", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if other.Workflow.Nodes[0].ID != "cache-test-b" || unsafe.SliceData(other.Workflow.Nodes) == unsafe.SliceData(a.Workflow.Nodes) {
		t.Fatalf("another workflow decoded to %+v", other.Workflow.Nodes)
	}
	bad := body("d", `{"nodes":[{"id":"cache-test-c","image":"busybox","colour":"red"}]}`)
	for range 2 {
		if _, err := decode(bad); err == nil || !strings.Contains(err.Error(), "colour") {
			t.Fatalf("unknown field in a node: %v", err)
		}
	}
}
