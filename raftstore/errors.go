package raftstore

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; every error the
// package returns wraps one of them (or a context error) with what was being
// done.
var (
	// ErrNotLeader means the call needs the Raft leader and this node is not
	// it (or stopped being it before the outcome was known). Writes are
	// idempotent by key, so the caller may retry on the leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNotFound means the execution, cluster or member does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the object exists with another spec.
	ErrConflict = errors.New("conflict")
	// ErrBusy means the cluster still runs executions.
	ErrBusy = errors.New("busy")
	// ErrStale means the command was made from an outdated view: its attempt
	// (the fencing token) or cluster no longer match.
	ErrStale = errors.New("stale")
	// ErrInvalidTransition means the object's state does not allow the command.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrUnknownCommand means the command's version or type is not known to
	// this FSM. It is refused, never skipped.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrClosed means the node was closed.
	ErrClosed = errors.New("raft node closed")
)
