package raftstore

import (
	"encoding/json"
	"hash/maphash"
	"reflect"
	"runtime"
	"testing"
	"unsafe"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// A workflow decoded again from the same JSON is the pool's copy, equal to
// what encoding/json decodes; once that copy is collected, decoding starts
// over.
func TestWorkflowJSONDecodesToThePoolsCopy(t *testing.T) {
	s := spec("a")
	s.Workflow.Nodes[0].Env = map[string]string{"MODE": "json-test"} // a DAG no other test pools
	raw, err := json.Marshal(Command{Version: CommandVersion, Type: CmdSubmit, Submit: &SubmitCmd{Spec: s}})
	if err != nil {
		t.Fatal(err)
	}
	decode := func() []v1.TaskNode {
		var c Command
		if err := fastJSON.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		var std Command
		if err := json.Unmarshal(raw, &std); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.Submit.Spec.Workflow, std.Submit.Spec.Workflow) {
			t.Fatalf("decoded workflow %+v, encoding/json %+v", c.Submit.Spec.Workflow, std.Submit.Spec.Workflow)
		}
		return c.Submit.Spec.Workflow.Nodes
	}
	first := decode()
	if again := decode(); unsafe.SliceData(again) != unsafe.SliceData(first) {
		t.Fatal("the same JSON decoded to another copy")
	}
	if pooled := pool.dag(cloneDAG(first), true); unsafe.SliceData(pooled) != unsafe.SliceData(first) {
		t.Fatal("the decoded DAG is not the pool's copy")
	}
	// The cache names it by the workflow's JSON, as the command holds it.
	wraw, err := json.Marshal(s.Workflow)
	if err != nil {
		t.Fatal(err)
	}
	h := maphash.Bytes(dagsByJSON.seed, wraw)
	if got, ok := dagsByJSON.get(h, wraw); !ok || unsafe.SliceData(got) != unsafe.SliceData(first) {
		t.Fatal("the workflow's JSON does not name the pool's copy")
	}
	runtime.KeepAlive(first)
	runtime.GC()
	runtime.GC()
	if _, ok := dagsByJSON.get(h, wraw); ok {
		t.Fatal("the cache kept a collected DAG alive")
	}
	if got := decode(); len(got) != len(s.Workflow.Nodes) || got[0].Env["MODE"] != "json-test" {
		t.Fatalf("decoded after collection: %+v", got)
	}
}

// A workflow that is not valid JSON fails its command's decode.
func TestWorkflowJSONRefusesBadInput(t *testing.T) {
	var c Command
	err := fastJSON.Unmarshal([]byte(`{"v":1,"t":"Submit","submit":{"spec":{"workflow":{"nodes":[{"id":1}]}}}}`), &c)
	if err == nil {
		t.Fatal("a node id of the wrong type decoded")
	}
}
