package raftstore

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// seq joins command lists.
func seq(parts ...[]Command) []Command {
	var out []Command
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func cmds(c ...Command) []Command { return c }

// Common starting points.
var (
	queued   = cmds(submit(spec("x")))
	assigned = seq(readyCluster("c1"), queued, cmds(assign("x", "c1", 1)))
	running  = seq(assigned, cmds(report("x", "c1", 1, v1.PhaseRunning)))
	aborting = seq(running, cmds(cancel("x")))
)

func wantPhase(p v1.ExecutionPhase) func(*testing.T, *fsmHarness, Result) {
	return func(t *testing.T, h *fsmHarness, _ Result) {
		t.Helper()
		if got := h.exec("x").Phase; got != p {
			t.Fatalf("phase %s, want %s", got, p)
		}
	}
}

func wantClusterState(name string, st v1.ClusterState) func(*testing.T, *fsmHarness, Result) {
	return func(t *testing.T, h *fsmHarness, _ Result) {
		t.Helper()
		if got := h.cluster(name).State; got != st {
			t.Fatalf("cluster %s is %s, want %s", name, got, st)
		}
	}
}

func wantVerdict(v v1.ReportVerdict, p v1.ExecutionPhase) func(*testing.T, *fsmHarness, Result) {
	return func(t *testing.T, h *fsmHarness, r Result) {
		t.Helper()
		if r.Verdict != v {
			t.Fatalf("verdict %s, want %s", r.Verdict, v)
		}
		if p != "" {
			wantPhase(p)(t, h, r)
		}
	}
}

func TestFSMApply(t *testing.T) {
	otherSpec := spec("x")
	otherSpec.Inputs = map[string]string{"changed": "yes"}
	limited := spec("x")
	limited.MaxAttempts = 2

	tests := []struct {
		name    string
		setup   []Command
		cmd     Command
		wantErr error
		check   func(*testing.T, *fsmHarness, Result)
	}{
		// Submit.
		{name: "submit creates a queued execution", cmd: submit(spec("x")), check: func(t *testing.T, h *fsmHarness, r Result) {
			s := spec("x")
			e := h.exec("x")
			if !r.Created || e.Phase != v1.PhaseQueued || e.Attempt != 1 || e.Seq != 1 || e.SpecHash != s.Hash() {
				t.Fatalf("created=%v %+v", r.Created, e)
			}
			if len(e.History) != 1 || e.History[0].Reason != v1.ReasonSubmitted || !e.CreatedAt.Equal(h.now) {
				t.Fatalf("history %+v createdAt %v", e.History, e.CreatedAt)
			}
			if q := h.s.Queued(); len(q) != 1 || q[0].Name != "x" {
				t.Fatalf("queue %+v", q)
			}
		}},
		{name: "submit same spec is idempotent", setup: queued, cmd: submit(spec("x")), check: func(t *testing.T, h *fsmHarness, r Result) {
			if r.Created || r.Execution == nil || r.Execution.Seq != 1 {
				t.Fatalf("%+v", r)
			}
			if n := len(h.s.Queued()); n != 1 {
				t.Fatalf("queue has %d", n)
			}
		}},
		{name: "submit other spec conflicts", setup: queued, cmd: submit(otherSpec), wantErr: ErrConflict},
		{name: "submit without spec", cmd: Command{Type: CmdSubmit}, wantErr: v1.ErrInvalid},

		// Cancel.
		{name: "cancel queued aborts", setup: queued, cmd: cancel("x"), check: func(t *testing.T, h *fsmHarness, r Result) {
			e := h.exec("x")
			if e.Phase != v1.PhaseAborted || e.Reason != v1.ReasonCancelled || len(h.s.Queued()) != 0 {
				t.Fatalf("%+v", e)
			}
		}},
		{name: "cancel assigned is aborting", setup: assigned, cmd: cancel("x"), check: wantPhase(v1.PhaseAborting)},
		{name: "cancel running is aborting", setup: running, cmd: cancel("x"), check: func(t *testing.T, h *fsmHarness, r Result) {
			wantPhase(v1.PhaseAborting)(t, h, r)
			if a := h.s.Assignments("c1"); len(a.Items) != 1 || a.Items[0].Phase != v1.PhaseAborting {
				t.Fatalf("assignments %+v", a)
			}
		}},
		{name: "cancel aborting is a no-op", setup: aborting, cmd: cancel("x"), check: wantPhase(v1.PhaseAborting)},
		{name: "cancel succeeded is a no-op", setup: seq(running, cmds(report("x", "c1", 1, v1.PhaseSucceeded))), cmd: cancel("x"), check: wantPhase(v1.PhaseSucceeded)},
		{name: "cancel unknown", cmd: cancel("x"), wantErr: ErrNotFound},

		// Assign.
		{name: "assign places a queued execution", setup: seq(readyCluster("c1"), queued), cmd: assign("x", "c1", 1), check: func(t *testing.T, h *fsmHarness, r Result) {
			e := h.exec("x")
			if e.Phase != v1.PhaseAssigned || e.Cluster != "c1" || e.History[len(e.History)-1].Reason != v1.ReasonPlaced {
				t.Fatalf("%+v", e)
			}
			if c := h.cluster("c1"); c.Running != 1 {
				t.Fatalf("running %d", c.Running)
			}
			a := h.s.Assignments("c1")
			if len(a.Items) != 1 || a.Items[0].Attempt != 1 || a.Revision == 0 {
				t.Fatalf("assignments %+v", a)
			}
			if len(h.s.Queued()) != 0 {
				t.Fatal("still queued")
			}
		}},
		{name: "assign with a stale attempt", setup: seq(readyCluster("c1"), queued), cmd: assign("x", "c1", 2), wantErr: ErrStale},
		{name: "assign twice is refused", setup: assigned, cmd: assign("x", "c1", 1), wantErr: ErrInvalidTransition},
		{name: "assign to another cluster while assigned is refused", setup: seq(assigned, readyCluster("c2")), cmd: assign("x", "c2", 1), wantErr: ErrInvalidTransition},
		{name: "assign to unknown cluster", setup: queued, cmd: assign("x", "nope", 1), wantErr: ErrNotFound},
		{name: "assign to registered cluster", setup: seq(cmds(register("c1")), queued), cmd: assign("x", "c1", 1), wantErr: ErrInvalidTransition},
		{name: "assign to cordoned cluster", setup: seq(readyCluster("c1"), cmds(named(CmdCordon, "c1")), queued), cmd: assign("x", "c1", 1), wantErr: ErrInvalidTransition},
		{name: "assign unknown execution", setup: readyCluster("c1"), cmd: assign("x", "c1", 1), wantErr: ErrNotFound},

		// Report.
		{name: "report unknown execution", cmd: report("x", "c1", 1, v1.PhaseRunning), check: wantVerdict(v1.VerdictUnknown, "")},
		{name: "report from another cluster is stale", setup: seq(assigned, readyCluster("c2")), cmd: report("x", "c2", 1, v1.PhaseRunning), check: wantVerdict(v1.VerdictStale, v1.PhaseAssigned)},
		{name: "report of another attempt is stale", setup: assigned, cmd: report("x", "c1", 2, v1.PhaseRunning), check: wantVerdict(v1.VerdictStale, v1.PhaseAssigned)},
		{name: "report without cluster is invalid", setup: queued, cmd: report("x", "", 1, v1.PhaseRunning), wantErr: v1.ErrInvalid},
		{name: "report running", setup: assigned, cmd: report("x", "c1", 1, v1.PhaseRunning), check: wantVerdict(v1.VerdictAccepted, v1.PhaseRunning)},
		{name: "report failed from assigned", setup: assigned, cmd: report("x", "c1", 1, v1.PhaseFailed), check: wantVerdict(v1.VerdictAccepted, v1.PhaseFailed)},
		{name: "report succeeded leaves the cluster", setup: running, cmd: report("x", "c1", 1, v1.PhaseSucceeded), check: func(t *testing.T, h *fsmHarness, r Result) {
			wantVerdict(v1.VerdictAccepted, v1.PhaseSucceeded)(t, h, r)
			if c := h.cluster("c1"); c.Running != 0 || len(h.s.OnCluster("c1")) != 0 {
				t.Fatalf("still on cluster: running %d", c.Running)
			}
		}},
		{name: "report never moves backwards", setup: running, cmd: report("x", "c1", 1, v1.PhaseAssigned), check: wantVerdict(v1.VerdictAccepted, v1.PhaseRunning)},
		{name: "report running while aborting stays aborting", setup: aborting, cmd: report("x", "c1", 1, v1.PhaseRunning), check: wantVerdict(v1.VerdictAccepted, v1.PhaseAborting)},
		{name: "report aborted ends aborting", setup: aborting, cmd: report("x", "c1", 1, v1.PhaseAborted), check: wantVerdict(v1.VerdictAccepted, v1.PhaseAborted)},
		{name: "report succeeded ends aborting", setup: aborting, cmd: report("x", "c1", 1, v1.PhaseSucceeded), check: wantVerdict(v1.VerdictAccepted, v1.PhaseSucceeded)},
		{name: "report after the end is a no-op", setup: seq(running, cmds(report("x", "c1", 1, v1.PhaseFailed))), cmd: report("x", "c1", 1, v1.PhaseRunning), check: wantVerdict(v1.VerdictAccepted, v1.PhaseFailed)},
		{name: "report records and merges nodes and outputs", setup: seq(running, cmds(Command{Type: CmdReport, Report: &ReportCmd{Cluster: "c1", Report: v1.StatusReport{
			ExecutionKey: key("x"), Attempt: 1, Phase: v1.PhaseRunning, Nodes: map[string]v1.NodeStatus{"a": {Phase: v1.NodeSucceeded, Outputs: map[string]string{"o": "1"}}},
		}}})), cmd: Command{Type: CmdReport, Report: &ReportCmd{Cluster: "c1", Report: v1.StatusReport{
			ExecutionKey: key("x"), Attempt: 1, Phase: v1.PhaseSucceeded, Message: "done", Outputs: map[string]string{"out": "v"},
			Nodes: map[string]v1.NodeStatus{"b": {Phase: v1.NodeSucceeded}},
		}}}, check: func(t *testing.T, h *fsmHarness, r Result) {
			e := h.exec("x")
			if e.Phase != v1.PhaseSucceeded || e.Message != "done" || e.Outputs["out"] != "v" || len(e.Nodes) != 2 || e.Nodes["a"].Outputs["o"] != "1" {
				t.Fatalf("%+v", e)
			}
		}},

		// Requeue.
		{name: "requeue puts it back with the next attempt and keeps nodes", setup: seq(running, cmds(Command{Type: CmdReport, Report: &ReportCmd{Cluster: "c1", Report: v1.StatusReport{
			ExecutionKey: key("x"), Attempt: 1, Phase: v1.PhaseRunning, Nodes: map[string]v1.NodeStatus{"a": {Phase: v1.NodeSucceeded}},
		}}})), cmd: requeue("x", 1, v1.ReasonClusterLost), check: func(t *testing.T, h *fsmHarness, r Result) {
			e := h.exec("x")
			if e.Phase != v1.PhaseQueued || e.Attempt != 2 || e.Cluster != "" || e.Reason != v1.ReasonClusterLost || e.Nodes["a"].Phase != v1.NodeSucceeded {
				t.Fatalf("%+v", e)
			}
			if q := h.s.Queued(); len(q) != 1 {
				t.Fatalf("queue %d", len(q))
			}
			if c := h.cluster("c1"); c.Running != 0 {
				t.Fatalf("running %d", c.Running)
			}
		}},
		{name: "requeued execution is placed again with its new attempt", setup: seq(running, cmds(requeue("x", 1, v1.ReasonClusterLost))), cmd: assign("x", "c1", 2), check: func(t *testing.T, h *fsmHarness, r Result) {
			if e := h.exec("x"); e.Phase != v1.PhaseAssigned || e.Attempt != 2 {
				t.Fatalf("%+v", e)
			}
		}},
		{name: "report of the old attempt after requeue is stale", setup: seq(running, cmds(requeue("x", 1, v1.ReasonClusterLost), assign("x", "c1", 2))), cmd: report("x", "c1", 1, v1.PhaseSucceeded), check: wantVerdict(v1.VerdictStale, v1.PhaseAssigned)},
		{name: "requeue with a stale attempt", setup: running, cmd: requeue("x", 2, v1.ReasonClusterLost), wantErr: ErrStale},
		{name: "requeue of a queued execution", setup: queued, cmd: requeue("x", 1, v1.ReasonClusterLost), wantErr: ErrStale},
		{name: "requeue past max attempts fails it", setup: seq(readyCluster("c1"), cmds(submit(limited), assign("x", "c1", 1), requeue("x", 1, v1.ReasonClusterLost), assign("x", "c1", 2))),
			cmd: requeue("x", 2, v1.ReasonClusterLost), check: func(t *testing.T, h *fsmHarness, r Result) {
				e := h.exec("x")
				if e.Phase != v1.PhaseFailed || e.Reason != v1.ReasonClusterLost || e.Attempt != 2 {
					t.Fatalf("%+v", e)
				}
			}},
		{name: "requeue of an aborting execution aborts it", setup: aborting, cmd: requeue("x", 1, v1.ReasonDrainDeadline), check: wantPhase(v1.PhaseAborted)},
		{name: "requeue unknown", cmd: requeue("x", 1, v1.ReasonClusterLost), wantErr: ErrNotFound},

		// Clusters.
		{name: "register creates a cluster", cmd: register("c1"), check: func(t *testing.T, h *fsmHarness, r Result) {
			c := h.cluster("c1")
			if !r.Created || c.State != v1.ClusterRegistered || c.Healthy || c.Breaker != v1.BreakerClosed {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "register same spec is idempotent", setup: cmds(register("c1")), cmd: register("c1"), check: func(t *testing.T, h *fsmHarness, r Result) {
			if r.Created || r.Cluster == nil {
				t.Fatalf("%+v", r)
			}
		}},
		{name: "register other spec conflicts", setup: cmds(register("c1")), cmd: Command{Type: CmdRegisterCluster, Cluster: &v1.ClusterSpec{Name: "c1", Weight: 7}}, wantErr: ErrConflict},
		{name: "first heartbeat makes it ready", setup: cmds(register("c1")), cmd: heartbeat("c1"), check: func(t *testing.T, h *fsmHarness, r Result) {
			c := h.cluster("c1")
			if c.State != v1.ClusterReady || !c.Healthy || c.HealthySince.IsZero() || c.Capacity == nil || c.Capacity.Free.Pods != 10 || c.AgentVersion != "v1" || c.LastHeartbeat.IsZero() {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "heartbeat does not heal an unhealthy cluster", setup: seq(readyCluster("c1"), cmds(Command{Type: CmdSetHealth, Name: "c1"})), cmd: heartbeat("c1"), check: func(t *testing.T, h *fsmHarness, r Result) {
			if c := h.cluster("c1"); c.State != v1.ClusterUnhealthy || c.Healthy {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "heartbeat unknown", cmd: heartbeat("c1"), wantErr: ErrNotFound},
		{name: "set health false", setup: readyCluster("c1"), cmd: Command{Type: CmdSetHealth, Name: "c1"}, check: wantClusterState("c1", v1.ClusterUnhealthy)},
		{name: "set health true", setup: seq(readyCluster("c1"), cmds(Command{Type: CmdSetHealth, Name: "c1"})), cmd: Command{Type: CmdSetHealth, Name: "c1", Healthy: true}, check: func(t *testing.T, h *fsmHarness, r Result) {
			if c := h.cluster("c1"); c.State != v1.ClusterReady || !c.Healthy || !c.HealthySince.Equal(h.now) {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "cordon ready", setup: readyCluster("c1"), cmd: named(CmdCordon, "c1"), check: wantClusterState("c1", v1.ClusterCordoned)},
		{name: "cordon keeps health", setup: seq(readyCluster("c1"), cmds(Command{Type: CmdSetHealth, Name: "c1"})), cmd: named(CmdCordon, "c1"), check: func(t *testing.T, h *fsmHarness, r Result) {
			if c := h.cluster("c1"); c.State != v1.ClusterCordoned || c.Healthy {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "cordon draining is refused", setup: seq(assigned, cmds(Command{Type: CmdDrain, Name: "c1", Deadline: time.Unix(1e9, 0)})), cmd: named(CmdCordon, "c1"), wantErr: ErrInvalidTransition},
		{name: "cordon unknown", cmd: named(CmdCordon, "c1"), wantErr: ErrNotFound},
		{name: "uncordon", setup: seq(readyCluster("c1"), cmds(named(CmdCordon, "c1"))), cmd: named(CmdUncordon, "c1"), check: wantClusterState("c1", v1.ClusterReady)},
		{name: "uncordon unhealthy", setup: seq(readyCluster("c1"), cmds(Command{Type: CmdSetHealth, Name: "c1"}, named(CmdCordon, "c1"))), cmd: named(CmdUncordon, "c1"), check: wantClusterState("c1", v1.ClusterUnhealthy)},
		{name: "uncordon registered is refused", setup: cmds(register("c1")), cmd: named(CmdUncordon, "c1"), wantErr: ErrInvalidTransition},
		{name: "drain an idle cluster drains at once", setup: readyCluster("c1"), cmd: Command{Type: CmdDrain, Name: "c1", Deadline: time.Unix(1e9, 0)}, check: func(t *testing.T, h *fsmHarness, r Result) {
			if c := h.cluster("c1"); c.State != v1.ClusterDrained || c.DrainDeadline == nil {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "drain a busy cluster", setup: running, cmd: Command{Type: CmdDrain, Name: "c1", Deadline: time.Unix(1e9, 0)}, check: wantClusterState("c1", v1.ClusterDraining)},
		{name: "draining cluster is drained when its last execution ends", setup: seq(running, cmds(Command{Type: CmdDrain, Name: "c1", Deadline: time.Unix(1e9, 0)})),
			cmd: report("x", "c1", 1, v1.PhaseSucceeded), check: wantClusterState("c1", v1.ClusterDrained)},
		{name: "draining cluster is drained when its last execution is requeued", setup: seq(running, cmds(Command{Type: CmdDrain, Name: "c1", Deadline: time.Unix(1e9, 0)})),
			cmd: requeue("x", 1, v1.ReasonDrainDeadline), check: wantClusterState("c1", v1.ClusterDrained)},
		{name: "uncordon a drained cluster", setup: seq(readyCluster("c1"), cmds(Command{Type: CmdDrain, Name: "c1", Deadline: time.Unix(1e9, 0)})), cmd: named(CmdUncordon, "c1"), check: func(t *testing.T, h *fsmHarness, r Result) {
			if c := h.cluster("c1"); c.State != v1.ClusterReady || c.DrainDeadline != nil {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "drain without deadline", setup: readyCluster("c1"), cmd: named(CmdDrain, "c1"), wantErr: v1.ErrInvalid},
		{name: "update merges the patch", setup: readyCluster("c1"), cmd: Command{Type: CmdUpdateCluster, Name: "c1", Patch: &v1.ClusterPatch{Weight: ptr(5)}}, check: func(t *testing.T, h *fsmHarness, r Result) {
			if c := h.cluster("c1"); c.Weight != 5 || c.Labels["zone"] != "a" {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "update without patch", setup: readyCluster("c1"), cmd: named(CmdUpdateCluster, "c1"), wantErr: v1.ErrInvalid},
		{name: "remove a busy cluster", setup: assigned, cmd: named(CmdRemoveCluster, "c1"), wantErr: ErrBusy},
		{name: "remove an idle cluster", setup: seq(running, cmds(report("x", "c1", 1, v1.PhaseSucceeded))), cmd: named(CmdRemoveCluster, "c1"), check: func(t *testing.T, h *fsmHarness, r Result) {
			if _, ok := h.s.Cluster("c1"); ok {
				t.Fatal("still there")
			}
		}},
		{name: "remove unknown", cmd: named(CmdRemoveCluster, "c1"), wantErr: ErrNotFound},
		{name: "set breaker", setup: readyCluster("c1"), cmd: Command{Type: CmdSetBreaker, Name: "c1", Breaker: v1.BreakerOpen}, check: func(t *testing.T, h *fsmHarness, r Result) {
			if c := h.cluster("c1"); c.Breaker != v1.BreakerOpen {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "set breaker to nonsense", setup: readyCluster("c1"), cmd: Command{Type: CmdSetBreaker, Name: "c1", Breaker: "ajar"}, wantErr: v1.ErrInvalid},

		// Members.
		{name: "set member", cmd: Command{Type: CmdSetMember, Member: &MemberMeta{ID: "n1", HTTPAddress: "127.0.0.1:1"}}, check: func(t *testing.T, h *fsmHarness, r Result) {
			if m := h.s.Members(); m["n1"] != "127.0.0.1:1" {
				t.Fatalf("%v", m)
			}
		}},
		{name: "remove member", setup: cmds(Command{Type: CmdSetMember, Member: &MemberMeta{ID: "n1", HTTPAddress: "a"}}), cmd: Command{Type: CmdRemoveMember, Member: &MemberMeta{ID: "n1"}}, check: func(t *testing.T, h *fsmHarness, r Result) {
			if m := h.s.Members(); len(m) != 0 {
				t.Fatalf("%v", m)
			}
		}},
		{name: "set member without id", cmd: Command{Type: CmdSetMember, Member: &MemberMeta{}}, wantErr: v1.ErrInvalid},

		// Refusals of what the FSM does not know.
		{name: "unknown command version", cmd: Command{Version: CommandVersion + 1, Type: CmdSubmit, Submit: &SubmitCmd{Spec: spec("x")}}, wantErr: ErrUnknownCommand, check: func(t *testing.T, h *fsmHarness, r Result) {
			if _, ok := h.s.Execution(key("x")); ok {
				t.Fatal("applied anyway")
			}
		}},
		{name: "unknown command type", cmd: Command{Type: "teleport"}, wantErr: ErrUnknownCommand},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for _, c := range tc.setup {
				h.must(c)
			}
			before := dumpState(h.s)
			r := h.apply(tc.cmd)
			if !errors.Is(r.Err, tc.wantErr) || (tc.wantErr == nil) != (r.Err == nil) {
				t.Fatalf("err = %v, want %v", r.Err, tc.wantErr)
			}
			if r.Err != nil {
				// A refused command changes nothing.
				after := dumpState(h.s)
				after.Applied = before.Applied
				if d := diffDumps(before, after); d != "" {
					t.Fatalf("refused command changed the state: %s", d)
				}
			}
			if tc.check != nil {
				tc.check(t, h, r)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestFSMRefusesUnreadableEntries(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"not json", "{"},
		{"unknown envelope version", `{"v":2,"cmds":[]}`},
		{"no envelope version", `{"cmds":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			res := s.applyLog(1, []byte(tc.data))
			if _, ok := res.(error); !ok {
				t.Fatalf("got %T %v, want an error", res, res)
			}
			if s.AppliedIndex() != 1 {
				t.Fatalf("applied %d", s.AppliedIndex())
			}
		})
	}
}

func TestFSMMalformedCommandFailsAlone(t *testing.T) {
	s := NewState()
	good, err := encodeCommand(&Command{Version: CommandVersion, Type: CmdSetMember, Member: &MemberMeta{ID: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	res := s.applyLog(1, encodeBatch([]json.RawMessage{json.RawMessage(`{"v":1,"t":7}`), good}))
	results := res.([]Result)
	if !errors.Is(results[0].Err, ErrUnknownCommand) || results[1].Err != nil {
		t.Fatalf("results %+v", results)
	}
	if _, ok := s.Members()["n1"]; !ok {
		t.Fatal("good command not applied")
	}
}

func TestFSMBatchAppliesInOrder(t *testing.T) {
	h := newHarness(t)
	res := h.applyAll(append(readyCluster("c1"), submit(spec("x")), assign("x", "c1", 1), report("x", "c1", 1, v1.PhaseRunning))...)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("command %d: %v", i, r.Err)
		}
	}
	if e := h.exec("x"); e.Phase != v1.PhaseRunning {
		t.Fatalf("phase %s", e.Phase)
	}
}
