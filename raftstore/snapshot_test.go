package raftstore

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// richState builds a state that exercises every part a snapshot carries:
// executions in every phase, on several clusters, requeued ones with nodes,
// clusters in several states, a removed cluster's revision, members.
func richState(t *testing.T, n int) *fsmHarness {
	h := newHarness(t)
	h.applyAll(seq(readyCluster("c1"), readyCluster("c2"), readyCluster("gone"), cmds(register("fresh")))...)
	h.must(named(CmdRemoveCluster, "gone"))
	h.must(Command{Type: CmdSetMember, Member: &MemberMeta{ID: "n1", HTTPAddress: "127.0.0.1:8080"}})
	var batch []Command
	for i := 0; i < n; i++ {
		s := specIn(fmt.Sprintf("proj%d", i%4), fmt.Sprintf("e%05d", i), v1.Tiers[i%3])
		s.Inputs = map[string]string{"i": fmt.Sprint(i)}
		batch = append(batch, submit(s))
	}
	h.applyAll(batch...)
	batch = nil
	for i := 0; i < n; i++ {
		k := v1.ExecutionKey{Project: fmt.Sprintf("proj%d", i%4), Domain: "d", Name: fmt.Sprintf("e%05d", i)}
		cl := []string{"c1", "c2"}[i%2]
		if i%7 == 0 {
			continue // stays queued
		}
		batch = append(batch, Command{Type: CmdAssign, Assign: &AssignCmd{Key: k, Cluster: cl, Attempt: 1}})
		rep := v1.StatusReport{ExecutionKey: k, Attempt: 1, Phase: v1.PhaseRunning,
			Nodes: map[string]v1.NodeStatus{"a": {Phase: v1.NodeSucceeded, Outputs: map[string]string{"o": "x"}}}}
		switch i % 7 {
		case 1:
		case 2:
			rep.Phase = v1.PhaseSucceeded
			rep.Outputs = map[string]string{"out": "y"}
		case 3:
			rep.Phase = v1.PhaseFailed
			rep.Message = "boom"
		}
		batch = append(batch, Command{Type: CmdReport, Report: &ReportCmd{Cluster: cl, Report: rep}})
		switch i % 7 {
		case 4:
			batch = append(batch, Command{Type: CmdRequeue, Requeue: &RequeueCmd{Key: k, Attempt: 1, Reason: v1.ReasonClusterLost}})
		case 5:
			batch = append(batch, Command{Type: CmdCancel, Key: &k})
		}
	}
	h.applyAll(batch...)
	h.must(Command{Type: CmdDrain, Name: "c2", Deadline: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	h.must(Command{Type: CmdSetBreaker, Name: "c1", Breaker: v1.BreakerHalfOpen})
	addCache(h, 30)
	return h
}

func snapshotBytes(t *testing.T, s *State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := mustSnapshot(t, s).write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRestoreRoundTripIsExact(t *testing.T) {
	h := richState(t, 500)
	data := snapshotBytes(t, h.s)

	restored := NewState()
	if err := restored.restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, restored)
	if d := diffDumps(dumpState(h.s), dumpState(restored)); d != "" {
		t.Fatal(d)
	}
	if a, b := dumpCache(h.s), dumpCache(restored); !reflect.DeepEqual(a, b) {
		t.Fatalf("task cache differs after restore:\n%+v\n%+v", a, b)
	}
	if again := snapshotBytes(t, restored); !bytes.Equal(again, data) {
		t.Fatal("snapshot of the restored state differs")
	}

	// The restored state goes on exactly as the original: same sequence
	// numbers and revisions for the same next commands.
	next := seq(cmds(submit(spec("after"))), readyCluster("gone"))
	h2 := &fsmHarness{t: t, s: restored, idx: h.idx, now: h.now}
	h.applyAll(next...)
	h2.applyAll(next...)
	if d := diffDumps(dumpState(h.s), dumpState(restored)); d != "" {
		t.Fatal("diverged after restore: " + d)
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	h := richState(t, 50)
	before := dumpState(h.s)
	snap := mustSnapshot(t, h.s)
	// Commands applied after the capture must not leak into it.
	h.applyAll(submit(spec("late")), report("e00001", "c2", 1, v1.PhaseSucceeded), named(CmdCordon, "c1"))
	var buf bytes.Buffer
	if err := snap.write(&buf); err != nil {
		t.Fatal(err)
	}
	restored := NewState()
	if err := restored.restore(&buf); err != nil {
		t.Fatal(err)
	}
	if d := diffDumps(before, dumpState(restored)); d != "" {
		t.Fatal(d)
	}
}

func TestRestoreReplacesEverythingAndWakesWaiters(t *testing.T) {
	src := richState(t, 20)
	data := snapshotBytes(t, src.s)

	h := newHarness(t)
	h.applyAll(seq(readyCluster("other"), cmds(submit(spec("zzz")), Command{Type: CmdSetMember, Member: &MemberMeta{ID: "n9"}}))...)
	changed, unsubscribe := h.s.Changed()
	defer unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	woken := make(chan error, 1)
	go func() {
		_, err := h.s.WaitAssignments(ctx, "other", h.s.Assignments("other").Revision)
		woken <- err
	}()
	time.Sleep(20 * time.Millisecond)

	if err := h.s.restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if d := diffDumps(dumpState(src.s), dumpState(h.s)); d != "" {
		t.Fatal(d)
	}
	if err := <-woken; err != nil {
		t.Fatalf("waiter not woken by restore: %v", err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("no change tick on restore")
	}
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	good := snapshotBytes(t, richState(t, 10).s)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown format", bytes.Replace(good, []byte(`"format":1`), []byte(`"format":9`), 1)},
		{"truncated", good[:len(good)*2/3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			s.mu.Lock()
			s.members["keep"] = "me"
			s.mu.Unlock()
			if err := s.restore(bytes.NewReader(tc.data)); err == nil {
				t.Fatal("restored a bad snapshot")
			}
			if s.Members()["keep"] != "me" {
				t.Fatal("a failed restore changed the state")
			}
		})
	}
}

// bufferSink is a raft.SnapshotSink in memory.
type bufferSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *bufferSink) ID() string    { return "test" }
func (s *bufferSink) Close() error  { s.closed = true; return nil }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }

// Persist writes the snapshot compressed; restore reads it back exactly, as
// it still reads the plain form that snapshots had before compression.
func TestPersistedSnapshotIsCompressedAndRestoresExactly(t *testing.T) {
	h := richState(t, 500)
	plain := snapshotBytes(t, h.s)
	var sink bufferSink
	if err := mustSnapshot(t, h.s).Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed %v cancelled %v, want closed only", sink.closed, sink.cancelled)
	}
	data := sink.Bytes()
	if len(data) == 0 || data[0] != 0xff || len(data)*3 > len(plain) {
		t.Fatalf("persisted %d bytes (first %#x) for %d plain: want an S2 stream at least 3x smaller", len(data), data[0], len(plain))
	}
	for name, b := range map[string][]byte{"compressed": data, "plain": plain} {
		restored := NewState()
		if err := restored.restore(bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diffDumps(dumpState(h.s), dumpState(restored)); d != "" {
			t.Fatalf("%s: %s", name, d)
		}
		if again := snapshotBytes(t, restored); !bytes.Equal(again, plain) {
			t.Fatalf("%s: snapshot of the restored state differs", name)
		}
	}
	// A damaged stream is refused and leaves the state as it was.
	damaged := append([]byte{}, data[:len(data)/2]...)
	s := NewState()
	if err := s.restore(bytes.NewReader(damaged)); err == nil {
		t.Fatal("restore of a truncated compressed snapshot succeeded")
	}
	if len(s.execs) != 0 {
		t.Fatalf("a refused restore left %d executions", len(s.execs))
	}
}
