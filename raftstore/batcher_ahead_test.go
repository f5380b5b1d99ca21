package raftstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestBatcherTakesAheadProposalsFirst: an ahead proposal goes into the
// next log entry before every ordinary proposal that waited longer, behind
// earlier ahead ones, and the ordinary ones keep their order.
func TestBatcherTakesAheadProposalsFirst(t *testing.T) {
	b := &batcher{maxBatch: 4, wake: make(chan struct{}, 1)}
	mk := func(name string, n int, ahead bool) *proposal {
		cmds := make([]json.RawMessage, n)
		for i := range cmds {
			cmds[i] = json.RawMessage(fmt.Sprintf("%q", name))
		}
		p := &proposal{cmds: cmds, ahead: ahead, done: make(chan struct{})}
		if err := b.enqueue(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s1, s2, s3 := mk("s1", 2, false), mk("s2", 2, false), mk("s3", 1, false)
	a1 := mk("a1", 3, true)
	a2 := mk("a2", 1, true)
	abandoned := mk("a3", 1, true)
	abandoned.state.Store(proposalAbandoned)
	var got [][]*proposal
	for {
		batch, _ := b.take()
		if len(batch) == 0 {
			break
		}
		got = append(got, batch)
	}
	want := [][]*proposal{{a1, a2}, {s1, s2}, {s3}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		name := func(bs [][]*proposal) (out [][]string) {
			for _, batch := range bs {
				var names []string
				for _, p := range batch {
					names = append(names, string(p.cmds[0]))
				}
				out = append(out, names)
			}
			return out
		}
		t.Fatalf("entries %v, want %v", name(got), name(want))
	}
	if b.nahead != 0 || len(b.pending) != 0 {
		t.Fatalf("after taking everything: %d ahead of %d pending", b.nahead, len(b.pending))
	}
	// An ahead proposal after the queue drained goes first again.
	s4 := mk("s4", 1, false)
	a4 := mk("a4", 1, true)
	if batch, _ := b.take(); len(batch) != 2 || batch[0] != a4 || batch[1] != s4 {
		t.Fatalf("after draining: %v, want a4 then s4", batch)
	}
}

// TestApplyBatchAheadCommits: ahead batches commit through a real node,
// with shared results in order.
func TestApplyBatchAheadCommits(t *testing.T) {
	cfg := testConfig(t, "solo", t.TempDir(), "127.0.0.1:0")
	cfg.Bootstrap = true
	n := openNode(t, cfg)
	waitFor(t, 5*time.Second, "leadership", n.IsLeader)
	ctx, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	rs, err := n.ApplyBatchAhead(ctx, []Command{submit(spec("x")), submit(spec("y")), cancel("x")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].Execution.Name != "x" || rs[1].Execution.Name != "y" || rs[2].Execution.Phase != v1.PhaseAborted {
		t.Fatalf("results %+v", rs)
	}
}
