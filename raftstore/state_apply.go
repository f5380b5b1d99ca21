package raftstore

import (
	"fmt"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// applyYield is how many commands the FSM applies under one hold of the
// write lock. A log entry carries up to MaxBatch commands; holding the lock
// for all of them would make every reader (a scheduler round, a list, a
// submission's admission check) wait out the whole entry. Between chunks
// waiting readers get in; they may see a prefix of an entry, which is a
// state the log could as well have produced with smaller entries: every
// command is committed and stands alone.
const applyYield = 256

// applyLog applies one log entry: a batch of commands. It returns one Result
// per command, or an error when the entry as a whole cannot be read (then
// nothing was changed). Results point at stored, immutable versions; the
// batcher deep-copies them for the caller. The entry is decoded before the
// write lock is taken.
func (s *State) applyLog(index uint64, data []byte) any {
	return s.applyEntry(index, data, nil)
}

// applyEntry is applyLog for an entry this node proposed as leader, when
// local holds the commands it proposed (local_entries.go): they are not
// decoded again.
func (s *State) applyEntry(index uint64, data []byte, local *localEntry) any {
	var cmds []*Command
	var decodeErrs []error
	var entryErr error
	if local != nil {
		cmds, decodeErrs = local.commands()
	} else {
		var decoded []Command
		decoded, decodeErrs, entryErr = decodeLogEntry(index, data)
		cmds = make([]*Command, len(decoded))
		for i := range decoded {
			cmds[i] = &decoded[i]
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if index > s.applied {
			s.applied = index
		}
		s.wakeLocked(false)
	}()
	if entryErr != nil {
		return entryErr
	}
	results := make([]Result, len(cmds))
	var done *proposalEnds
	if local != nil && local.applied != nil {
		done = &proposalEnds{ends: local.ends, applied: local.applied}
	}
	for i := range cmds {
		if i > 0 && i%applyYield == 0 {
			s.mu.Unlock()
			s.mu.Lock()
		}
		if decodeErrs != nil && decodeErrs[i] != nil {
			results[i] = Result{Err: decodeErrs[i]}
		} else {
			results[i] = s.apply(cmds[i])
		}
		done.next(i+1, results)
	}
	return results
}

// proposalEnds answers the proposals of a local entry one by one, each as
// soon as its last command is applied, rather than all once the whole
// entry is: a command applied is committed, and an entry of thousands of
// commands takes milliseconds to apply.
type proposalEnds struct {
	ends    []int // each proposal's end in the entry's commands
	p       int   // the next proposal to answer
	applied func(p int, results []Result)
}

// next answers every proposal that ends at or before n applied commands.
func (d *proposalEnds) next(n int, results []Result) {
	if d == nil {
		return
	}
	for d.p < len(d.ends) && d.ends[d.p] <= n {
		from := 0
		if d.p > 0 {
			from = d.ends[d.p-1]
		}
		d.applied(d.p, results[from:d.ends[d.p]:d.ends[d.p]])
		d.p++
	}
}

// apply applies one command. Callers hold mu for writing. A refused command
// changes nothing.
func (s *State) apply(c *Command) Result {
	if c.Version != CommandVersion {
		return Result{Err: fmt.Errorf("%w: %s command version %d, want %d", ErrUnknownCommand, c.Type, c.Version, CommandVersion)}
	}
	switch c.Type {
	case CmdSubmit:
		return s.applySubmit(c)
	case CmdCancel:
		return s.applyCancel(c)
	case CmdAssign:
		return s.applyAssign(c)
	case CmdReport:
		return s.applyReport(c)
	case CmdRequeue:
		return s.applyRequeue(c)
	case CmdRegisterCluster:
		return s.applyRegisterCluster(c)
	case CmdUpdateCluster:
		return s.applyUpdateCluster(c)
	case CmdRemoveCluster:
		return s.applyRemoveCluster(c)
	case CmdCordon:
		return s.applyCordon(c)
	case CmdUncordon:
		return s.applyUncordon(c)
	case CmdDrain:
		return s.applyDrain(c)
	case CmdHeartbeat:
		return s.applyHeartbeat(c)
	case CmdSetHealth:
		return s.applySetHealth(c)
	case CmdSetBreaker:
		return s.applySetBreaker(c)
	case CmdSetMember:
		return s.applySetMember(c)
	case CmdRemoveMember:
		return s.applyRemoveMember(c)
	case CmdCacheClaim:
		return s.applyCacheClaim(c)
	case CmdCachePut:
		return s.applyCachePut(c)
	case CmdCacheEvict:
		return s.applyCacheEvict(c)
	case CmdArchive:
		return s.applyArchive(c)
	}
	return Result{Err: fmt.Errorf("%w: type %q", ErrUnknownCommand, c.Type)}
}

// refuse builds the result of a refused command.
func refuse(sentinel error, format string, args ...any) Result {
	return Result{Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}

// invalidCmd refuses a malformed command (a missing payload).
func invalidCmd(c *Command, what string) Result {
	return refuse(v1.ErrInvalid, "%s command: %s", c.Type, what)
}

// decodeLogEntry decodes an entry read from the log: its commands, each
// command's own decode error (nil when all decode), or an error for the
// entry as a whole.
func decodeLogEntry(index uint64, data []byte) ([]Command, []error, error) {
	plain, release, err := unpackEntry(data)
	if err != nil {
		return nil, nil, fmt.Errorf("apply log entry %d: %w: %v", index, ErrUnknownCommand, err)
	}
	// Decoding copies everything it keeps (strings, raw commands).
	defer release()
	if cmds, ok := decodeBatchCommands(plain); ok {
		return cmds, nil, nil
	}
	// The slow path: one command at a time, so that a bad one fails alone.
	entry, err := decodeBatch(plain)
	if err != nil {
		return nil, nil, fmt.Errorf("apply log entry %d: %w", index, err)
	}
	cmds := make([]Command, len(entry.Commands))
	errs := make([]error, len(entry.Commands))
	for i, raw := range entry.Commands {
		if err := fastJSON.Unmarshal(raw, &cmds[i]); err != nil {
			errs[i] = fmt.Errorf("%w: decode command: %v", ErrUnknownCommand, err)
		}
	}
	return cmds, errs, nil
}
