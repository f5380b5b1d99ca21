package raftstore

import (
	"io"
	"log/slog"

	"github.com/hashicorp/raft"
)

// fsm adapts State to raft.FSM. Each method is one call into the state.
type fsm struct {
	state *State
	log   *slog.Logger
	// local holds the commands of the entries this node proposes.
	local *localEntries
}

var (
	_ raft.FSM                = (*fsm)(nil)
	_ raft.ConfigurationStore = (*fsm)(nil)
)

// Apply applies one log entry, a batch of commands; it returns []Result, or
// an error when the entry cannot be read at all.
func (f *fsm) Apply(l *raft.Log) any {
	var local *localEntry
	if f.local != nil {
		local = f.local.take(l.Data)
	}
	res := f.state.applyEntry(l.Index, l.Data, local)
	if err, ok := res.(error); ok {
		// Every replica refuses it alike; say so loudly, since it means a
		// proposer speaks a format this binary does not know.
		f.log.Error("refused raft log entry", "index", l.Index, "error", err)
	}
	return res
}

// Snapshot captures the state; Persist streams it.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return f.state.snapshot() }

// Restore replaces the state with a snapshot, then rebuilds the derived
// sums that the snapshot does not carry.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.state.restore(rc); err != nil {
		return err
	}
	f.state.rebuildAggregates()
	return nil
}

// StoreConfiguration is called for configuration entries; recording their
// index keeps AppliedIndex in step with the log for VerifyRead.
func (f *fsm) StoreConfiguration(index uint64, _ raft.Configuration) {
	f.state.observeIndex(index)
}
