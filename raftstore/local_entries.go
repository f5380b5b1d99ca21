package raftstore

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// localEntries hands the leader's FSM the submissions it proposed itself,
// so that it does not decode them back from its own log entries: decoding
// a submission's spec was the largest single cost of applying it, and the
// leader applies every entry while it also serves every request.
//
// An entry is known by the address of its bytes. hashicorp/raft passes the
// leader's FSM the very slice the batcher proposed (the log future's Data),
// while an entry read back from the log store, on a follower or on a leader
// that lost and regained leadership, is a fresh slice that matches nothing
// and is decoded as usual.
//
// Submissions and assignments take this path, the commands that come by
// the million. A submission is a spec, defaulted and validated, and its
// canonical JSON is what followers decode: the spec and the decoded
// canonical JSON encode alike (TestLocalSubmitsApplyAsDecoded holds them to
// that). An assignment is two strings and an int. The other commands are
// rarer and decoded as followers decode them.
type localEntries struct {
	mu sync.Mutex
	m  map[*byte]*localEntry
	// taken counts the entries the FSM applied from here.
	taken atomic.Uint64
}

// localEntry is what the batcher proposed in one entry: the encodings of
// its commands, in entry order, and at the index of each submission the
// command as its proposer built it (nil elsewhere).
type localEntry struct {
	cmds []*Command
	raws []json.RawMessage
	// committed, when set, is called once the FSM takes the entry: it is
	// committed then, and only its application is left.
	committed func()
	// ends is where each proposal of the entry ends in its commands, and
	// applied, when set, is called with each proposal's results as soon as
	// the FSM applied them (state_apply.go), under the state's lock: it
	// must not block.
	ends    []int
	applied func(p int, results []Result)
}

func newLocalEntries() *localEntries { return &localEntries{m: map[*byte]*localEntry{}} }

func (l *localEntries) put(data []byte, e *localEntry) {
	l.mu.Lock()
	l.m[unsafe.SliceData(data)] = e
	l.mu.Unlock()
}

// take returns and forgets the entry proposed as data, or nil.
func (l *localEntries) take(data []byte) *localEntry {
	if len(data) == 0 {
		return nil
	}
	k := unsafe.SliceData(data)
	l.mu.Lock()
	e := l.m[k]
	if e != nil {
		delete(l.m, k)
		l.taken.Add(1)
	}
	l.mu.Unlock()
	if e != nil && e.committed != nil {
		e.committed()
	}
	return e
}

// drop forgets data's entry if the FSM never took it (the entry failed).
func (l *localEntries) drop(data []byte) {
	l.mu.Lock()
	delete(l.m, unsafe.SliceData(data))
	l.mu.Unlock()
}

// commands returns the entry's commands as the FSM applies them: each
// submission and assignment as proposed (a submission's spec is still the
// proposer's, so the state keeps only the pool's or its own copies of its
// parts), the others decoded from their encodings. A command that does not
// decode fails alone, with its error in errs.
func (e *localEntry) commands() (cmds []*Command, errs []error) {
	cmds = make([]*Command, len(e.raws))
	var decoded []Command
	for i, raw := range e.raws {
		if i < len(e.cmds) {
			if c := e.cmds[i]; c != nil && c.local && c.Version == CommandVersion &&
				(c.Type == CmdSubmit && c.Submit != nil && c.Submit.canonical != nil || c.Type == CmdAssign && c.Assign != nil) {
				cmds[i] = c
				continue
			}
		}
		if decoded == nil {
			decoded = make([]Command, len(e.raws))
		}
		cmds[i] = &decoded[i]
		if err := fastJSON.Unmarshal(raw, cmds[i]); err != nil {
			if errs == nil {
				errs = make([]error, len(e.raws))
			}
			errs[i] = fmt.Errorf("%w: decode command: %v", ErrUnknownCommand, err)
		}
	}
	return cmds, errs
}
