package raftstore

import (
	"encoding/json"
	"reflect"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

func withInputs(name string, in map[string]string) v1.ExecutionSpec {
	s := spec(name)
	s.Inputs = in
	return s
}

// Executions with equal inputs hold one map, whichever path applied them
// (decoded on a follower, borrowed from the proposer on a leader); the
// proposer's map is never the state's; the last holder archived frees it.
func TestEqualInputsShareOneMap(t *testing.T) {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	h.applyAll(
		submit(withInputs("a", map[string]string{"date": "2025-01-01", "shard": "1"})),
		submit(withInputs("b", map[string]string{"shard": "1", "date": "2025-01-01"})),
		submit(withInputs("c", map[string]string{"date": "2025-01-01", "shard": "2"})),
		submit(withInputs("empty", map[string]string{})),
	)
	// A leader's own proposal: borrowed, equal to a and b.
	mine := map[string]string{"date": "2025-01-01", "shard": "1"}
	c := Command{Version: CommandVersion, Type: CmdSubmit, At: h.now, Submit: NewSubmitCmd(withInputs("d", mine)), local: true}
	raw, err := encodeCommand(&c)
	if err != nil {
		t.Fatal(err)
	}
	h.idx++
	if res := h.s.applyEntry(h.idx, encodeBatch([]json.RawMessage{raw}), &localEntry{cmds: []*Command{&c}, raws: []json.RawMessage{raw}}); res.([]Result)[0].Err != nil {
		t.Fatal(res.([]Result)[0].Err)
	}
	checkInvariants(t, h.s)

	ptr := func(name string) uintptr {
		return uintptr(reflect.ValueOf(h.s.execs[key(name).String()].Inputs).UnsafePointer())
	}
	if ptr("a") != ptr("b") || ptr("a") != ptr("d") {
		t.Fatal("equal inputs are not one map")
	}
	if ptr("a") == ptr("c") {
		t.Fatal("different inputs share a map")
	}
	if ptr("d") == uintptr(reflect.ValueOf(mine).UnsafePointer()) {
		t.Fatal("the state holds the proposer's map")
	}
	if h.s.execs[key("empty").String()].Inputs != nil {
		t.Fatal("empty inputs are not nil")
	}
	mine["date"] = "changed"
	if h.exec("d").Inputs["date"] != "2025-01-01" {
		t.Fatal("changing the proposer's map changed the state")
	}

	// Archived, every holder releases its map: none is left.
	names := []string{"a", "b", "c", "d", "empty"}
	var done []Command
	for _, n := range names {
		done = append(done, cancel(n))
	}
	h.applyAll(done...)
	h.apply(archiveCmd(h.now, 0, names...))
	if len(h.s.inputs.buckets) != 0 {
		t.Fatalf("%d input maps left after archiving every holder", len(h.s.inputs.buckets))
	}
}
