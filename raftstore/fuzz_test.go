package raftstore

import (
	"encoding/json"
	"reflect"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// fuzzSetup is the state a fuzzed log entry lands on: two ready clusters,
// executions queued, assigned, running and done, so that commands naming
// them reach deep into apply.
func fuzzSetup(t *testing.T) *fsmHarness {
	h := newHarness(t)
	var cmds []Command
	cmds = append(cmds, readyCluster("c1")...)
	cmds = append(cmds, readyCluster("c2")...)
	cmds = append(cmds, submit(spec("q")), submit(spec("a")), submit(spec("r")), submit(spec("d")),
		assign("a", "c1", 1), assign("r", "c2", 1), assign("d", "c1", 1),
		report("r", "c2", 1, v1.PhaseRunning), report("d", "c1", 1, v1.PhaseSucceeded))
	h.applyAll(cmds...)
	return h
}

// FuzzApplyLogEntry feeds arbitrary bytes to the FSM as a Raft log entry:
// as the whole entry, or as one command inside a valid envelope. Nothing
// may panic, a refused entry or command must change nothing, the state's
// indexes must stay consistent, and two replicas applying the same entry
// must end in the same state (the FSM is deterministic).
func FuzzApplyLogEntry(f *testing.F) {
	seed := func(cmds ...Command) []byte {
		raws := make([]json.RawMessage, len(cmds))
		for i := range cmds {
			c := cmds[i]
			c.Version = CommandVersion
			raw, err := encodeCommand(&c)
			if err != nil {
				f.Fatal(err)
			}
			raws[i] = raw
		}
		return encodeBatch(raws)
	}
	for _, e := range [][]byte{
		seed(submit(spec("new"))),
		seed(assign("q", "c2", 1), report("a", "c1", 1, v1.PhaseRunning)),
		seed(report("a", "c2", 1, v1.PhaseSucceeded), requeue("r", 1, v1.ReasonClusterLost)),
		seed(cancel("a"), named(CmdCordon, "c1"), named(CmdDrain, "c2"), named(CmdRemoveCluster, "c1")),
		seed(Command{Type: "bogus"}),
		[]byte(`{"v":2,"cmds":[]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit"}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"report","report":{"cluster":"c1","report":{"project":"p","domain":"d","name":"a","attempt":1,"phase":"Bogus"}}}]}`),
		[]byte(`not json`),
	} {
		f.Add(e, false)
	}
	f.Add([]byte(`{"v":1,"t":"assign","assign":{"key":{"project":"p","domain":"d","name":"q"},"cluster":"c1","attempt":1}}`), true)
	f.Add([]byte(`{"v":1,"t":"updateCluster","name":"c1","patch":{"weight":-5}}`), true)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		entry := data
		if wrap {
			entry = encodeBatch([]json.RawMessage{data})
		}
		a, b := fuzzSetup(t), fuzzSetup(t)
		before := dumpState(a.s)
		resA := a.s.applyLog(a.idx+1, entry)
		resB := b.s.applyLog(b.idx+1, entry)
		checkInvariants(t, a.s)
		if !reflect.DeepEqual(dumpState(a.s), dumpState(b.s)) {
			t.Fatalf("two replicas diverged on entry %q", entry)
		}
		results, ok := resA.([]Result)
		if !ok {
			// The whole entry was refused: only the applied index moved.
			after := dumpState(a.s)
			after.Applied = before.Applied
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("a refused entry changed the state: %v", resA)
			}
			if _, ok := resB.(error); !ok {
				t.Fatalf("replicas disagree on refusing the entry: %v vs %v", resA, resB)
			}
			return
		}
		if len(results) == 1 && results[0].Err != nil {
			after := dumpState(a.s)
			after.Applied = before.Applied
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("a refused command changed the state: %v", results[0].Err)
			}
		}
	})
}
