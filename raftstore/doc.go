// Package raftstore is the replicated state of the federation: a Raft node
// (hashicorp/raft) whose log and stable store live in bbolt, whose snapshots
// are files, and whose FSM holds every execution, cluster and control-plane
// member.
//
// The FSM is the only writer of state. Callers propose typed, versioned
// Commands through Node.Apply or Node.ApplyBatch; a group-commit batcher packs
// everything waiting into one log entry, so a burst of N proposals costs a
// handful of fsyncs rather than N. Each command gets its own Result.
//
// Reads go to State, whose methods are safe for concurrent use and return
// copies. A read that must observe every write acknowledged anywhere first
// calls Node.VerifyRead on the leader.
//
// Stored executions and clusters are copy-on-write: a command never mutates a
// published value, it replaces it. That lets a snapshot capture the whole
// state by copying pointers and stream it to disk while commands go on.
//
// Memory tracks the live queue, not history. Executions of one workflow
// share one copy of its DAG, selector and repeated strings (specpool.go),
// and executions finished longer ago than the retention period move to the
// archive, which a Node keeps in a bbolt file beside its log
// (archive_store.go): derived state, rebuilt from the snapshot and the log
// on every start.
package raftstore
