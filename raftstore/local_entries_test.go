package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// localBodies are submissions as clients send them, with the shapes where a
// spec and its canonical JSON decoded again could part: empty and absent
// collections, pointers to empty values, escapes, non-ASCII text.
var localBodies = []string{
	`{"project":"p","domain":"d","name":"plain","workflow":{"nodes":[{"id":"a","image":"busybox"}]}}`,
	`{"project":"p","domain":"d","name":"empties","inputs":{},"preferredLabels":{},"clusterSelector":{},
	  "workflow":{"nodes":[{"id":"a","image":"busybox","command":[],"args":[],"env":{},"dependsOn":[],"inputs":{},"resources":{}}]}}`,
	`{"project":"p","domain":"d","name":"selector","tier":"critical","maxAttempts":3,
	  "clusterSelector":{"matchLabels":{},"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]},{"key":"gpu","operator":"Exists"}]},
	  "workflow":{"nodes":[{"id":"a","image":"busybox"}]}}`,
	`{"project":"p","domain":"d","name":"text","inputs":{"q":"<a&b> \"quoted\" \\ \u00e9\u4e2d\ud83d\ude00","empty":""},
	  "workflow":{"nodes":[
	    {"id":"a","image":"r/i:1","command":["sh","-c","echo <&>"],"env":{"K":"v=1"},"resources":{"cpu":"500m","memory":"1Gi","gpu":"1"},
	     "inputs":{"x":{"fromInput":"q"},"lit":{"value":""},"lit2":{"value":"v"}},"retries":2,"timeout":"30m","cache":{"version":"1"}},
	    {"id":"b","image":"r/i:1","dependsOn":["a"],"inputs":{"y":{"fromNode":"a","output":"o"}},"cache":{"version":"2"}}]}}`,
}

// A leader applies its own submissions from the commands it proposed
// (local_entries.go), followers from the entry's bytes. Both must end in
// states that encode alike, and that a snapshot writes byte for byte alike,
// or replicas would answer differently.
func TestLocalSubmitsApplyAsDecoded(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	var local []*Command
	var raws []json.RawMessage
	for i, body := range localBodies {
		var s v1.ExecutionSpec
		dec := json.NewDecoder(bytes.NewReader([]byte(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		s.Default()
		if err := s.Validate(v1.DefaultLimits); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		c := Command{Version: CommandVersion, Type: CmdSubmit, At: at.Add(time.Duration(i)), Submit: NewSubmitCmd(s), local: true}
		raw, err := encodeCommand(&c)
		if err != nil {
			t.Fatal(err)
		}
		local, raws = append(local, &c), append(raws, raw)
	}
	// A command that is not a submission in the same entry is decoded.
	c := Command{Version: CommandVersion, Type: CmdSetMember, At: at, Member: &MemberMeta{ID: "n1", HTTPAddress: "h:1"}}
	raw, err := encodeCommand(&c)
	if err != nil {
		t.Fatal(err)
	}
	local, raws = append(local, &c), append(raws, raw)
	entry := packEntry(encodeBatch(raws))

	leader, follower := NewState(), NewState()
	lr := leader.applyEntry(1, entry, &localEntry{cmds: local, raws: raws}).([]Result)
	fr := follower.applyLog(1, entry).([]Result)
	for i := range lr {
		if lr[i].Err != nil || fr[i].Err != nil {
			t.Fatalf("command %d: leader %v, follower %v", i, lr[i].Err, fr[i].Err)
		}
		if lj, fj := mustJSON(t, lr[i].Execution), mustJSON(t, fr[i].Execution); lj != fj {
			t.Fatalf("command %d answers differ:\nleader   %s\nfollower %s", i, lj, fj)
		}
	}
	if _, ok := leader.Members()["n1"]; !ok {
		t.Fatal("the decoded command was not applied on the leader")
	}
	for k, e := range follower.execs {
		if lj, fj := mustJSON(t, leader.execs[k]), mustJSON(t, e); lj != fj {
			t.Fatalf("%s differs:\nleader   %s\nfollower %s", k, lj, fj)
		}
	}
	if !bytes.Equal(snapshotBytes(t, leader), snapshotBytes(t, follower)) {
		t.Fatal("leader and follower snapshots differ")
	}
	// The proposer's spec is not the state's: changing it changes nothing
	// (and the pool, which the follower shares, holds no part of it).
	before := snapshotBytes(t, leader)
	local[1].Submit.Spec.Inputs["late"] = "x"
	local[3].Submit.Spec.Workflow.Nodes[0].Env["K"] = "changed"
	local[2].Submit.Spec.ClusterSelector.MatchExpressions[0].Values[0] = "changed"
	if !bytes.Equal(snapshotBytes(t, leader), before) {
		t.Fatal("the state changed with the proposer's spec")
	}
}

func TestLocalEntriesMatchOnlyTheProposedSlice(t *testing.T) {
	l := newLocalEntries()
	data := []byte(`{"v":1,"cmds":[]}`)
	e := &localEntry{}
	l.put(data, e)
	if got := l.take(bytes.Clone(data)); got != nil {
		t.Fatal("an equal copy of the entry (as read back from the log) matched")
	}
	if got := l.take(data); got != e {
		t.Fatal("the proposed slice did not match")
	}
	if got := l.take(data); got != nil {
		t.Fatal("an entry was taken twice")
	}
	l.put(data, e)
	l.drop(data)
	if len(l.m) != 0 {
		t.Fatalf("%d entries left after drop", len(l.m))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(string(b))
}

// Over real Raft, the leader applies its own submissions from the commands
// it proposed and the followers from the log: every replica must still hold
// the same state, byte for byte in a snapshot.
func TestReplicasHoldTheSameStateAfterLocalApply(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	leader := c.leader()
	ctx := testCtx(t, 60*time.Second)
	specs := make([]v1.ExecutionSpec, 0, len(localBodies))
	for i, body := range localBodies {
		var s v1.ExecutionSpec
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		s.Default()
		specs = append(specs, s)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				s := specs[(w+i)%len(specs)]
				s.Name = fmt.Sprintf("%s-%d-%d", s.Name, w, i)
				s.Inputs = maps.Clone(s.Inputs) // a spec of its own, as a request has
				r, err := leader.Apply(ctx, Command{Type: CmdSubmit, Submit: NewSubmitCmd(s)})
				if err == nil {
					err = r.Err
				}
				if err != nil {
					t.Errorf("submit %s: %v", s.Name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// Assignments take the local path too: place half the queue.
	if _, err := leader.ApplyBatch(ctx, readyCluster("c1")); err != nil {
		t.Fatal(err)
	}
	var assigns []Command
	for i, e := range leader.State().Queued() {
		if i%2 == 0 {
			assigns = append(assigns, Command{Type: CmdAssign, Assign: &AssignCmd{Key: e.Key(), Cluster: "c1", Attempt: e.Attempt}})
		}
	}
	rs, err := leader.ApplyBatch(ctx, assigns)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Fatalf("assign: %v", r.Err)
		}
	}
	c.waitConverged(10 * time.Second)
	want := snapshotBytes(t, leader.State())
	for id, n := range c.nodes {
		waitFor(t, 5*time.Second, "the FSM of "+id, func() bool { return n.State().AppliedIndex() >= leader.State().AppliedIndex() })
		if got := snapshotBytes(t, n.State()); !bytes.Equal(got, want) {
			t.Fatalf("replica %s holds another state than the leader %s", id, leader.ID())
		}
	}
	if leader.batcher.local.taken.Load() == 0 {
		t.Fatal("the leader decoded every entry: the local path was never taken")
	}
	if n := len(leader.State().Queued()); n != 100 {
		t.Fatalf("%d executions queued, want 100", n)
	}
}

// The leader's FSM answers each proposal of its own entry once that
// proposal's commands are applied, before the rest of the entry.
func TestLocalEntryAnswersEachProposalWhenApplied(t *testing.T) {
	h := newHarness(t)
	var raws []json.RawMessage
	var cmds []*Command
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		c := Command{Version: CommandVersion, Type: CmdSubmit, At: h.now, Submit: NewSubmitCmd(spec(name)), local: true}
		raw, err := encodeCommand(&c)
		if err != nil {
			t.Fatal(err)
		}
		raws, cmds = append(raws, raw), append(cmds, &c)
	}
	type answer struct{ proposal, results, stored int }
	var got []answer
	local := &localEntry{cmds: cmds, raws: raws, ends: []int{2, 3, 5},
		applied: func(p int, results []Result) {
			// Called under the state's lock, from the FSM's goroutine.
			got = append(got, answer{p, len(results), len(h.s.execs)})
			for _, r := range results {
				if r.Err != nil || !r.Created {
					t.Errorf("proposal %d: %+v", p, r)
				}
			}
		}}
	h.idx++
	res := h.s.applyEntry(h.idx, encodeBatch(raws), local)
	want := []answer{{0, 2, 2}, {1, 1, 3}, {2, 2, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("answers (proposal, results, executions stored) = %v, want %v", got, want)
	}
	if n := len(res.([]Result)); n != 5 {
		t.Fatalf("entry results: %d, want 5", n)
	}
	checkInvariants(t, h.s)
}

// A proposal is answered once: the FSM's answer stands, the entry's later
// one is ignored.
func TestProposalAnsweredOnce(t *testing.T) {
	p := &proposal{done: make(chan struct{})}
	p.state.Store(proposalTaken)
	first := []Result{{Created: true}}
	p.answer(first, nil)
	p.answer(nil, ErrClosed)
	<-p.done
	if p.err != nil || len(p.results) != 1 || !p.results[0].Created {
		t.Fatalf("answer = %+v, %v; want the first", p.results, p.err)
	}
}

// An entry's own submissions and assignments are applied as the proposer
// built them; any other command, or one not marked local, is decoded.
func TestLocalEntryCommandsTakeTheProposersOwn(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	build := []Command{
		{Version: CommandVersion, Type: CmdSubmit, At: at, Submit: NewSubmitCmd(spec("a")), local: true},
		{Version: CommandVersion, Type: CmdAssign, At: at, Assign: &AssignCmd{Key: key("a"), Cluster: "c1", Attempt: 1}, local: true},
		{Version: CommandVersion, Type: CmdSubmit, At: at, Submit: NewSubmitCmd(spec("b"))},
		{Version: CommandVersion, Type: CmdCancel, At: at, Key: new(key("a")), local: true},
	}
	var cmds []*Command
	var raws []json.RawMessage
	for i := range build {
		raw, err := encodeCommand(&build[i])
		if err != nil {
			t.Fatal(err)
		}
		cmds, raws = append(cmds, &build[i]), append(raws, raw)
	}
	got, errs := (&localEntry{cmds: cmds, raws: raws}).commands()
	if errs != nil {
		t.Fatal(errs)
	}
	for i, want := range []bool{true, true, false, false} {
		if own := got[i] == cmds[i]; own != want {
			t.Errorf("command %d (%s): applied as built %v, want %v", i, build[i].Type, own, want)
		}
		if got[i].Type != build[i].Type {
			t.Errorf("command %d: type %s, want %s", i, got[i].Type, build[i].Type)
		}
	}
}
