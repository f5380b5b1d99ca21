package raftstore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// archiveFixture has one execution in each interesting phase on cluster c1:
// queued, running, succeeded, failed, aborted (cancelled while queued).
func archiveFixture(t *testing.T) *fsmHarness {
	h := newHarness(t)
	h.applyAll(readyCluster("c1")...)
	for _, n := range []string{"queued", "running", "ok", "bad", "gone"} {
		h.must(submit(spec(n)))
	}
	h.applyAll(
		assign("running", "c1", 1), report("running", "c1", 1, v1.PhaseRunning),
		assign("ok", "c1", 1), report("ok", "c1", 1, v1.PhaseSucceeded),
		assign("bad", "c1", 1), report("bad", "c1", 1, v1.PhaseFailed),
		cancel("gone"),
	)
	return h
}

func archiveCmd(at time.Time, retention time.Duration, names ...string) Command {
	keys := make([]v1.ExecutionKey, len(names))
	for i, n := range names {
		keys[i] = key(n)
	}
	return Command{Type: CmdArchive, At: at, Archive: &ArchiveCmd{Keys: keys, Retention: retention}}
}

func TestArchiveMovesOnlyExecutionsTerminalPastRetention(t *testing.T) {
	forEachArchiveStore(t, testArchiveMovesOnlyExecutionsTerminalPastRetention)
}

func testArchiveMovesOnlyExecutionsTerminalPastRetention(t *testing.T, useStore func(*testing.T, *State)) {
	all := []string{"queued", "running", "ok", "bad", "gone", "missing"}
	tests := []struct {
		name      string
		after     time.Duration // command At past the fixture's last change
		retention time.Duration
		want      []string
	}{
		{"within retention: nothing", time.Hour, 24 * time.Hour, nil},
		{"past retention: the terminal ones", 25 * time.Hour, 24 * time.Hour, []string{"ok", "bad", "gone"}},
		{"zero retention: every terminal one", 0, 0, []string{"ok", "bad", "gone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := archiveFixture(t)
			useStore(t, h.s)
			before := map[string]v1.Execution{}
			for _, n := range all[:5] {
				before[n] = h.exec(n)
			}
			r := h.must(archiveCmd(h.now.Add(tc.after), tc.retention, all...))
			if r.Archived != len(tc.want) || h.s.ArchivedCount() != len(tc.want) {
				t.Fatalf("archived %d (count %d), want %d", r.Archived, h.s.ArchivedCount(), len(tc.want))
			}
			hot, _ := h.s.ListExecutions(ExecutionFilter{}, 0, "")
			if len(hot) != 5-len(tc.want) {
				t.Fatalf("%d hot executions, want %d", len(hot), 5-len(tc.want))
			}
			for _, n := range tc.want {
				// Gone from every hot index...
				for _, f := range []ExecutionFilter{{}, {Project: "p"}, {Cluster: "c1"}, {Phase: before[n].Phase}} {
					items, _ := h.s.ListExecutions(f, 0, "")
					for _, e := range items {
						if e.Name == n {
							t.Errorf("%s still listed by %+v", n, f)
						}
					}
				}
				// ...still readable, unchanged.
				got, ok := h.s.Execution(key(n))
				if !ok || !reflect.DeepEqual(got, before[n]) {
					t.Errorf("%s read back from the archive: %v\n%+v\nwant %+v", n, ok, got, before[n])
				}
			}
			arch, _ := h.s.ListArchived(ExecutionFilter{Project: "p"}, 0, "")
			if len(arch) != len(tc.want) {
				t.Fatalf("ListArchived: %d, want %d", len(arch), len(tc.want))
			}
			if c := h.cluster("c1"); c.Running != 1 {
				t.Fatalf("cluster running %d, want 1", c.Running)
			}
		})
	}
}

func TestArchivedExecutionKeepsSubmitIdempotentAndCancelHarmless(t *testing.T) {
	forEachArchiveStore(t, testArchivedExecutionKeepsSubmitIdempotentAndCancelHarmless)
}

func testArchivedExecutionKeepsSubmitIdempotentAndCancelHarmless(t *testing.T, useStore func(*testing.T, *State)) {
	h := archiveFixture(t)
	useStore(t, h.s)
	h.must(archiveCmd(h.now.Add(48*time.Hour), 24*time.Hour, "ok"))
	want := h.exec("ok")

	r := h.apply(submit(spec("ok")))
	if r.Err != nil || r.Created || r.Execution == nil || r.Execution.Phase != v1.PhaseSucceeded {
		t.Fatalf("same spec again: %+v", r)
	}
	other := spec("ok")
	other.Inputs = map[string]string{"x": "1"}
	if r := h.apply(submit(other)); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("another spec: %v, want ErrConflict", r.Err)
	}
	if r := h.apply(cancel("ok")); r.Err != nil || r.Execution.Phase != v1.PhaseSucceeded {
		t.Fatalf("cancel archived: %+v", r)
	}
	if got := h.exec("ok"); !reflect.DeepEqual(got, want) {
		t.Fatal("archived execution changed")
	}
}

func TestArchiveRefusesMalformedCommands(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
	}{
		{"no payload", Command{Type: CmdArchive}},
		{"negative retention", Command{Type: CmdArchive, Archive: &ArchiveCmd{Retention: -time.Second}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := archiveFixture(t)
			if r := h.apply(tc.cmd); !errors.Is(r.Err, v1.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", r.Err)
			}
		})
	}
}

func TestSnapshotCarriesTheArchive(t *testing.T) {
	forEachArchiveStore(t, testSnapshotCarriesTheArchive)
}

func testSnapshotCarriesTheArchive(t *testing.T, useStore func(*testing.T, *State)) {
	h := richState(t, 200)
	useStore(t, h.s)
	var names []v1.ExecutionKey
	for _, p := range []v1.ExecutionPhase{v1.PhaseSucceeded, v1.PhaseFailed, v1.PhaseAborted} {
		items, _ := h.s.ListExecutions(ExecutionFilter{Phase: p}, 0, "")
		for _, e := range items {
			names = append(names, e.Key())
		}
	}
	r := h.must(Command{Type: CmdArchive, At: h.now.Add(time.Hour), Archive: &ArchiveCmd{Keys: names, Retention: time.Minute}})
	if r.Archived != len(names) || len(names) == 0 {
		t.Fatalf("archived %d of %d", r.Archived, len(names))
	}
	data := snapshotBytes(t, h.s)

	restored := NewState()
	useStore(t, restored)
	if err := restored.restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, restored)
	if d := diffDumps(dumpState(h.s), dumpState(restored)); d != "" {
		t.Fatal(d)
	}
	if again := snapshotBytes(t, restored); !bytes.Equal(again, data) {
		t.Fatal("snapshot of the restored state differs")
	}
	a, _ := h.s.ListArchived(ExecutionFilter{}, 0, "")
	b, _ := restored.ListArchived(ExecutionFilter{}, 0, "")
	if len(a) != len(names) || !reflect.DeepEqual(a, b) {
		t.Fatalf("archive differs after restore: %d vs %d items", len(a), len(b))
	}
}

func TestListArchivedPages(t *testing.T) { forEachArchiveStore(t, testListArchivedPages) }

func testListArchivedPages(t *testing.T, useStore func(*testing.T, *State)) {
	h := newHarness(t)
	useStore(t, h.s)
	var names []string
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		h.must(submit(spec(n)))
		h.must(cancel(n))
		names = append(names, n)
	}
	h.must(submit(specIn("q", "z", v1.TierStandard)))
	h.must(Command{Type: CmdCancel, Key: &v1.ExecutionKey{Project: "q", Domain: "d", Name: "z"}})
	cmd := archiveCmd(h.now.Add(time.Hour), 0, names...)
	cmd.Archive.Keys = append(cmd.Archive.Keys, v1.ExecutionKey{Project: "q", Domain: "d", Name: "z"})
	h.must(cmd)

	var got []string
	after := ""
	for range 10 {
		items, next := h.s.ListArchived(ExecutionFilter{Project: "p"}, 2, after)
		for _, e := range items {
			got = append(got, e.Name)
		}
		if next == "" {
			break
		}
		after = next
	}
	if !reflect.DeepEqual(got, names) {
		t.Fatalf("pages gave %v, want %v", got, names)
	}
}

// TestArchiveSurvivesRestart: a single real node archives, snapshots,
// archives more (in the log after the snapshot), restarts, and still
// serves every archived execution.
func TestArchiveSurvivesRestart(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	n := openNode(t, cfg)
	ctx := testCtx(t, 30*time.Second)
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	keys := submitN(ctx, n, "a", 20, 4)
	for _, k := range keys {
		if r, err := n.Apply(ctx, Command{Type: CmdCancel, Key: &k}); err != nil || r.Err != nil {
			t.Fatalf("cancel %s: %v %v", k, err, r.Err)
		}
	}
	archive := func(ks []v1.ExecutionKey) {
		t.Helper()
		r, err := n.Apply(ctx, Command{Type: CmdArchive, Archive: &ArchiveCmd{Keys: ks}})
		if err != nil || r.Err != nil || r.Archived != len(ks) {
			t.Fatalf("archive: %+v %v", r, err)
		}
	}
	archive(keys[:10])
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	archive(keys[10:])
	want := dumpState(n.State())
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	cfg.BindAddr = n.RaftAddr()
	n2 := openNode(t, cfg)
	waitFor(t, 5*time.Second, "leadership after restart", n2.IsLeader)
	if err := n2.VerifyRead(ctx); err != nil {
		t.Fatal(err)
	}
	got := dumpState(n2.State())
	got.Applied = want.Applied
	if d := diffDumps(want, got); d != "" {
		t.Fatal(d)
	}
	if c := n2.State().ArchivedCount(); c != len(keys) {
		t.Fatalf("%d archived after restart, want %d", c, len(keys))
	}
	for _, k := range keys {
		if e, ok := n2.State().Execution(k); !ok || e.Phase != v1.PhaseAborted {
			t.Fatalf("%s after restart: %v %+v", k, ok, e.Phase)
		}
	}
}

// forEachArchiveStore runs test with the archive in memory, as a bare
// State keeps it, and in a bbolt file, as a Node keeps it.
func forEachArchiveStore(t *testing.T, test func(*testing.T, func(*testing.T, *State))) {
	t.Run("memory", func(t *testing.T) { test(t, func(*testing.T, *State) {}) })
	t.Run("bolt", func(t *testing.T) { test(t, useBoltArchive) })
}

// useBoltArchive gives s, whose archive must still be empty, an archive
// in a bbolt file.
func useBoltArchive(t *testing.T, s *State) {
	t.Helper()
	if s.arch.count() != 0 {
		t.Fatal("the state has archived executions already")
	}
	a, err := openBoltArchive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.close() })
	s.arch = a
}
