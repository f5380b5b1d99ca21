package raftstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Apply proposes one command through group commit and returns its result.
// The error is about the proposal (ErrNotLeader, ErrClosed, ctx); the
// command's own refusal is in Result.Err. Version and At are filled when
// zero.
func (n *Node) Apply(ctx context.Context, cmd Command) (Result, error) {
	res, err := n.ApplyBatch(ctx, []Command{cmd})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// ApplyShared is Apply without the copy: the result's Execution and Cluster
// are the stored versions, which nobody ever mutates, so the caller may read
// them (encode a response, say) but must not modify them or anything they
// point at. It saves a deep copy on hot paths such as submit.
func (n *Node) ApplyShared(ctx context.Context, cmd Command) (Result, error) {
	res, err := n.propose(ctx, []Command{cmd}, proposeOwned)
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// ApplyBatch proposes several commands in one call; they land in one log
// entry together and in order (even past MaxBatch), and results come back
// in the same order.
func (n *Node) ApplyBatch(ctx context.Context, cmds []Command) ([]Result, error) {
	res, err := n.applyBatch(ctx, cmds)
	if err != nil || res == nil {
		return nil, err
	}
	out := make([]Result, len(res))
	for i, r := range res {
		out[i] = cloneResult(r)
	}
	return out, nil
}

// ApplyBatchShared is ApplyBatch without the copies: the results point at
// the stored versions, under the rules of ApplyShared, and the commands are
// the node's from the call on, even after it returns (a proposal abandoned
// to ctx may still be applied): the caller may read them but must not
// change them or what they point at.
func (n *Node) ApplyBatchShared(ctx context.Context, cmds []Command) ([]Result, error) {
	return n.propose(ctx, cmds, proposeOwned)
}

// ApplyBatchAhead is ApplyBatchShared for a proposer whose commands must not
// queue behind a flood of others (the scheduler's assignments behind a
// burst of submissions): its batch goes into the next log entry, before the
// proposals still waiting for group commit (after other ahead batches).
// Entries already handed to Raft are not overtaken.
func (n *Node) ApplyBatchAhead(ctx context.Context, cmds []Command) ([]Result, error) {
	return n.propose(ctx, cmds, proposeAhead|proposeOwned)
}

// applyBatch is ApplyBatch with the FSM's results as they are: pointing at
// stored versions.
func (n *Node) applyBatch(ctx context.Context, cmds []Command) ([]Result, error) {
	return n.propose(ctx, cmds, 0)
}

// proposeFlags say how propose treats a batch.
type proposeFlags uint8

const (
	// proposeAhead puts the batch before the proposals still waiting.
	proposeAhead proposeFlags = 1 << iota
	// proposeOwned: the commands are the node's (ApplyBatchShared), which
	// completes them in place and applies them as they are on this node,
	// instead of copying each (a command is some 200 bytes, and the
	// scheduler proposes every assignment).
	proposeOwned
)

func (n *Node) propose(ctx context.Context, cmds []Command, flags proposeFlags) ([]Result, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	if !n.IsLeader() {
		return nil, fmt.Errorf("apply %s: %w", cmds[0].Type, ErrNotLeader)
	}
	now := time.Now().UTC()
	raws := make([]json.RawMessage, len(cmds))
	// The submissions and assignments as proposed, for this node's FSM
	// should it still lead when the entry applies (local_entries.go); nil
	// for the others. Unless they are owned, copies, in one array per
	// proposal: the caller's may change once this returns.
	local := make([]*Command, len(cmds))
	copies, owned := cmds, flags&proposeOwned != 0
	if !owned {
		copies = make([]Command, len(cmds))
	}
	var assigns []AssignCmd
	for i := range cmds {
		c := &copies[i]
		if !owned {
			*c = cmds[i]
		}
		if c.Version == 0 {
			c.Version = CommandVersion
		}
		if c.At.IsZero() {
			c.At = now
		}
		// In UTC, the time decodes on followers to exactly the value the
		// leader applies from local (an offset would decode to another
		// location).
		c.At = c.At.UTC()
		if !rendered(c) {
			raw, err := encodeCommand(c)
			if err != nil {
				return nil, err
			}
			raws[i] = raw
			continue
		}
		// Rendered by the batcher straight into the entry.
		if err := checkRenderTime(c); err != nil {
			return nil, err
		}
		if c.Type == CmdAssign && !owned {
			if assigns == nil {
				assigns = make([]AssignCmd, 0, len(cmds)-i)
			}
			assigns = append(assigns, *c.Assign)
			c.Assign = &assigns[len(assigns)-1]
		}
		c.local = true
		local[i] = c
	}
	p := &proposal{cmds: raws, local: local, ahead: flags&proposeAhead != 0, done: make(chan struct{})}
	if err := n.batcher.enqueue(p); err != nil {
		return nil, fmt.Errorf("apply %s: %w", cmds[0].Type, err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		if p.state.CompareAndSwap(proposalWaiting, proposalAbandoned) {
			return nil, fmt.Errorf("apply %s: not proposed: %w", cmds[0].Type, ctx.Err())
		}
		return nil, fmt.Errorf("apply %s: proposed, outcome unknown: %w", cmds[0].Type, ctx.Err())
	}
	if p.err != nil {
		return nil, p.err
	}
	return p.results, nil
}

// VerifyRead is a linearizable read barrier: when it returns nil, State
// reflects every write acknowledged before the call, by any leader. It must
// run on the leader (ErrNotLeader otherwise). It checks leadership with a
// heartbeat round (raft.VerifyLeader), takes the commit index, and waits
// until the FSM has applied it.
func (n *Node) VerifyRead(ctx context.Context) error {
	for {
		if !n.IsLeader() {
			return fmt.Errorf("verify read: %w", ErrNotLeader)
		}
		term := n.raft.CurrentTerm()
		if n.barrierTerm.Load() != term {
			// A new leader's commit index may trail what its predecessor
			// committed until it commits an entry of its own term.
			if err := n.termBarrier(ctx, term); err != nil {
				return err
			}
		}
		idx := n.raft.CommitIndex()
		if err := n.raft.VerifyLeader().Error(); err != nil {
			return raftError("verify read", err)
		}
		if n.raft.CurrentTerm() != term {
			continue // leadership changed under us: barrier again
		}
		ok, err := n.state.waitApplied(ctx, idx, n.cfg.CommitTimeout+100*time.Millisecond)
		if err != nil {
			return fmt.Errorf("verify read: %w", err)
		}
		if ok {
			return nil
		}
		// The last entries up to idx are not commands (a term's no-op, a
		// barrier), so the state does not reach idx by itself. A barrier
		// proves the FSM applied everything before it.
		if err := n.barrier(ctx); err != nil {
			return err
		}
		return nil
	}
}

// termBarrier commits a barrier once per term, shared by concurrent readers.
func (n *Node) termBarrier(ctx context.Context, term uint64) error {
	n.barrierMu.Lock()
	defer n.barrierMu.Unlock()
	if n.barrierTerm.Load() == term {
		return nil
	}
	if err := n.barrier(ctx); err != nil {
		return err
	}
	n.barrierTerm.Store(term)
	return nil
}

// barrier commits a barrier entry and records its index as applied: raft
// answers a barrier only after the FSM applied everything before it.
func (n *Node) barrier(ctx context.Context) error {
	timeout := enqueueTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	f := n.raft.Barrier(timeout)
	if err := f.Error(); err != nil {
		return raftError("read barrier", err)
	}
	if inf, ok := f.(raft.IndexFuture); ok {
		n.state.observeIndex(inf.Index())
	}
	return nil
}
