package raftstore

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// The submit hot path renders a spec once (NewSubmitCmd), embeds those
// bytes in the log entry (appendRendered) and lets every replica store the
// carried hash. These tests hold it to the slow path it replaces.

func TestNewSubmitCmdHashIsTheSpecHash(t *testing.T) {
	for _, s := range []v1.ExecutionSpec{spec("a"), richSpec("b")} {
		sub := NewSubmitCmd(s)
		if sub.Hash != s.Hash() {
			t.Fatalf("%s: hash %s, spec.Hash() %s", s.Name, sub.Hash, s.Hash())
		}
	}
}

// richSpec has every kind of field the canonical JSON must carry.
func richSpec(name string) v1.ExecutionSpec {
	s := spec(name)
	s.Tier = v1.TierCritical
	s.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"region": "us-east"}}
	s.PreferredLabels = map[string]string{"zone": "a"}
	s.Inputs = map[string]string{"date": "2026-11-24", "html": "<a&b>"}
	s.Workflow.Nodes[1].Inputs = map[string]v1.Binding{"d": {FromNode: "a", Output: "path"}}
	s.Workflow.Nodes[1].Retries = 2
	return s
}

func TestEncodeSubmitDecodesLikeJSONMarshal(t *testing.T) {
	at := time.Date(2026, 11, 25, 1, 2, 3, 456789, time.UTC)
	for _, s := range []v1.ExecutionSpec{spec("a"), richSpec("b")} {
		fast := Command{Version: CommandVersion, Type: CmdSubmit, At: at, Submit: NewSubmitCmd(s)}
		raw, err := encodeCommand(&fast)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := json.Marshal(&fast) // the reflective encoding of the same command
		if err != nil {
			t.Fatal(err)
		}
		var got, want Command
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: fast encoding is not JSON: %v\n%s", s.Name, err, raw)
		}
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: fast encoding decodes to\n%+v\nwant\n%+v", s.Name, got, want)
		}
		if got.Submit.Hash != s.Hash() {
			t.Fatalf("%s: carried hash %q, want %q", s.Name, got.Submit.Hash, s.Hash())
		}
	}
}

func TestSubmitStoresCarriedOrComputedHash(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(v1.ExecutionSpec) Command
	}{
		{"NewSubmitCmd carries the hash", func(s v1.ExecutionSpec) Command {
			return Command{Type: CmdSubmit, Submit: NewSubmitCmd(s)}
		}},
		{"a command without a hash gets it computed", submit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			s := richSpec("x")
			r := h.must(tc.cmd(s))
			if !r.Created || r.Execution.SpecHash != s.Hash() {
				t.Fatalf("created %v, hash %q, want %q", r.Created, r.Execution.SpecHash, s.Hash())
			}
			// Idempotency holds across both kinds of command.
			if r := h.must(submit(s)); r.Created {
				t.Fatal("repeat of the same spec created again")
			}
			if r := h.must(Command{Type: CmdSubmit, Submit: NewSubmitCmd(s)}); r.Created {
				t.Fatal("repeat of the same spec created again")
			}
			other := s
			other.Tier = v1.TierBestEffort
			if r := h.apply(Command{Type: CmdSubmit, Submit: NewSubmitCmd(other)}); !errors.Is(r.Err, ErrConflict) {
				t.Fatalf("another spec under the same key: %v, want ErrConflict", r.Err)
			}
		})
	}
}

func TestBatchDecodesInOnePassOrFallsBack(t *testing.T) {
	good := func(name string) json.RawMessage {
		c := Command{Version: CommandVersion, Type: CmdSubmit, At: time.Unix(1, 0).UTC(), Submit: NewSubmitCmd(spec(name))}
		raw, err := encodeCommand(&c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	tests := []struct {
		name     string
		cmds     []json.RawMessage
		fastPath bool
		wantErrs []bool // per command: refused?
	}{
		{"all good", []json.RawMessage{good("a"), good("b")}, true, []bool{false, false}},
		{"one malformed", []json.RawMessage{good("a"), json.RawMessage(`{"v":1,"t":7}`), good("b")}, false, []bool{false, true, false}},
		{"null command", []json.RawMessage{json.RawMessage(`null`), good("a")}, true, []bool{true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeBatch(tc.cmds)
			if _, ok := decodeBatchCommands(data); ok != tc.fastPath {
				t.Fatalf("one-pass decode ok=%v, want %v", ok, tc.fastPath)
			}
			s := NewState()
			res, ok := s.applyLog(1, data).([]Result)
			if !ok || len(res) != len(tc.cmds) {
				t.Fatalf("results %v", res)
			}
			for i, r := range res {
				if (r.Err != nil) != tc.wantErrs[i] {
					t.Fatalf("command %d: err %v, want refused=%v", i, r.Err, tc.wantErrs[i])
				}
			}
		})
	}
}

func TestForEachQueuedWalksTheQueueInOrder(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{"s1", "c1", "s2", "b1", "c2"} {
		s := spec(name)
		switch name[0] {
		case 'c':
			s.Tier = v1.TierCritical
		case 'b':
			s.Tier = v1.TierBestEffort
		}
		h.must(Command{Type: CmdSubmit, Submit: NewSubmitCmd(s)})
	}
	var want, got []string
	for _, e := range h.s.Queued() {
		want = append(want, e.Name)
	}
	h.s.ForEachQueued(func(e *v1.Execution) bool {
		got = append(got, e.Name)
		return true
	})
	if !reflect.DeepEqual(got, want) || h.s.QueueLen() != len(want) {
		t.Fatalf("ForEachQueued %v (QueueLen %d), Queued %v", got, h.s.QueueLen(), want)
	}
	var first []string
	h.s.ForEachQueued(func(e *v1.Execution) bool {
		first = append(first, e.Name)
		return len(first) < 2
	})
	if len(first) != 2 {
		t.Fatalf("walk did not stop when told: %v", first)
	}
}

func TestApplySharedReturnsStoredVersionApplyReturnsCopy(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	n := c.leader()
	ctx := testCtx(t, 30*time.Second)
	shared, err := n.ApplyShared(ctx, Command{Type: CmdSubmit, Submit: NewSubmitCmd(spec("x"))})
	if err != nil || shared.Err != nil || !shared.Created {
		t.Fatalf("submit: %v %+v", err, shared)
	}
	n.State().mu.RLock()
	stored := n.State().execs[key("x").String()]
	n.State().mu.RUnlock()
	if shared.Execution != stored {
		t.Fatal("ApplyShared did not return the stored version")
	}
	copied, err := n.Apply(ctx, Command{Type: CmdSubmit, Submit: NewSubmitCmd(spec("x"))})
	if err != nil || copied.Err != nil || copied.Created {
		t.Fatalf("repeat: %v %+v", err, copied)
	}
	if copied.Execution == stored {
		t.Fatal("Apply returned the stored version, not a copy")
	}
	copied.Execution.History[0].Reason = "scribbled"
	if stored.History[0].Reason == "scribbled" {
		t.Fatal("a change to Apply's result reached the state")
	}
}
