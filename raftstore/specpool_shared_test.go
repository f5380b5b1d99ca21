package raftstore

import (
	"runtime"
	"testing"
	"unsafe"
	"weak"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// dag knows the pool's own copy by its address, and nothing else by it.
func TestSpecPoolKnowsItsOwnCopy(t *testing.T) {
	p := newSpecPool()
	pooled := p.dag([]v1.TaskNode{poolNode(), poolNode()}, false)
	for _, borrowed := range []bool{false, true} {
		// As dagsByJSON hands it out: the array rebuilt from its first node.
		again := p.dag(unsafe.Slice(&pooled[0], len(pooled)), borrowed)
		if unsafe.SliceData(again) != unsafe.SliceData(pooled) || len(again) != 2 || cap(again) != 2 {
			t.Fatalf("borrowed=%v: the pool's copy came back as another (%p, len %d, cap %d)", borrowed, unsafe.SliceData(again), len(again), cap(again))
		}
	}
	if s, ok := p.shared(pooled[:1]); ok {
		t.Fatalf("a prefix of a shared DAG passed for it: %v", s)
	}
	if _, ok := p.shared([]v1.TaskNode{poolNode(), poolNode()}); ok {
		t.Fatal("an equal copy passed for the pool's")
	}
	// An equal copy still resolves to the pool's, by hash.
	if got := p.dag([]v1.TaskNode{poolNode(), poolNode()}, false); unsafe.SliceData(got) != unsafe.SliceData(pooled) {
		t.Fatal("an equal DAG did not resolve to the pool's copy")
	}
	runtime.KeepAlive(pooled)
}

// An address is not enough: the DAG there must be the one the pool
// shared, still alive. A collected DAG's address may come back as a fresh
// array's.
func TestSpecPoolSharedNeedsTheLiveCopy(t *testing.T) {
	p := newSpecPool()
	fresh := []v1.TaskNode{poolNode()}
	other := []v1.TaskNode{poolNode()}
	p.mu.Lock()
	p.byFirst[firstAddr(fresh)] = sharedDAG{first: weak.Make(&other[0]), n: 1}
	p.mu.Unlock()
	if _, ok := p.shared(fresh); ok {
		t.Fatal("an address whose weak pointer leads elsewhere passed for shared")
	}
	runtime.KeepAlive(other)

	dead := func() sharedDAG {
		gone := []v1.TaskNode{poolNode()}
		return sharedDAG{first: weak.Make(&gone[0]), n: 1}
	}()
	runtime.GC()
	p.mu.Lock()
	p.byFirst[firstAddr(fresh)] = dead
	p.mu.Unlock()
	if _, ok := p.shared(fresh); ok {
		t.Fatal("a collected DAG's address passed for shared")
	}
	got := p.dag(fresh, false)
	if len(got) != 1 || got[0].ID != fresh[0].ID {
		t.Fatalf("dag gave %+v", got)
	}
	p.mu.Lock()
	p.added = 1 << 20
	p.sweepLocked()
	n := len(p.byFirst)
	p.mu.Unlock()
	if n != 1 {
		t.Fatalf("byFirst holds %d entries after a sweep, want the one live DAG", n)
	}
	runtime.KeepAlive(got)
}

// The decoded DAG is the pool's copy, and sharing it takes the short way
// to the same result.
func TestDecodedWorkflowIsSharedAsIs(t *testing.T) {
	entry := readmeEntry(t, 3)
	cmds, errs, err := decodeLogEntry(1, entry)
	if err != nil || errs != nil {
		t.Fatal(err, errs)
	}
	first := cmds[0].Submit.Spec.Workflow.Nodes
	if _, ok := pool.shared(first); !ok {
		t.Fatal("a decoded workflow is not known as the pool's copy")
	}
	for i := range cmds {
		s := cmds[i].Submit.Spec
		nodes := s.Workflow.Nodes
		shareSpec(&s)
		if unsafe.SliceData(s.Workflow.Nodes) != unsafe.SliceData(nodes) || unsafe.SliceData(nodes) != unsafe.SliceData(first) {
			t.Fatalf("command %d: sharing moved the DAG", i)
		}
	}
}

// A selector decodes to the pool's copy, which sharing keeps, and only
// when that copy is exactly the decoding: the pool counts an empty map
// equal to none, a decoder does not.
func TestDecodedSelectorIsThePoolsWhenIdentical(t *testing.T) {
	entry := readmeEntry(t, 3)
	cmds, _, err := decodeLogEntry(1, entry)
	if err != nil {
		t.Fatal(err)
	}
	sel := cmds[0].Submit.Spec.ClusterSelector
	for i := range cmds {
		s := cmds[i].Submit.Spec
		if s.ClusterSelector != sel {
			t.Fatalf("command %d: another copy of the selector", i)
		}
		shareSpec(&s)
		if s.ClusterSelector != sel {
			t.Fatalf("command %d: sharing swapped the decoded selector", i)
		}
	}

	exprs := []v1.LabelSelectorRequirement{{Key: "only-here", Operator: v1.OpExists}}
	pooled := pool.selector(&v1.LabelSelector{MatchExpressions: exprs}, true)
	data := []byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{"spec":{"project":"p","domain":"d","name":"n",` +
		`"clusterSelector":{"matchLabels":{},"matchExpressions":[{"key":"only-here","operator":"Exists"}]}}}}]}`)
	for range 2 {
		if !checkDecodesAlike(t, data) {
			t.Fatal("declined")
		}
		got, _ := decodeEntryFast(data)
		if s := got[0].Submit.Spec.ClusterSelector; s == pooled || s.MatchLabels == nil {
			t.Fatalf("decoded the pool's copy %+v for a selector with an empty map", s)
		}
	}
	runtime.KeepAlive(pooled)
}
