package raftstore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// CommandVersion is the version of Command this FSM understands. A command
// of any other version is refused with ErrUnknownCommand.
const CommandVersion = 1

// batchVersion is the version of the log entry envelope that carries a batch
// of commands. An entry of another version is refused as a whole.
const batchVersion = 1

// CommandType names what a Command does.
type CommandType string

// Command types.
const (
	CmdSubmit          CommandType = "submit"
	CmdCancel          CommandType = "cancel"
	CmdAssign          CommandType = "assign"
	CmdReport          CommandType = "report"
	CmdRequeue         CommandType = "requeue"
	CmdRegisterCluster CommandType = "registerCluster"
	CmdUpdateCluster   CommandType = "updateCluster"
	CmdRemoveCluster   CommandType = "removeCluster"
	CmdCordon          CommandType = "cordon"
	CmdUncordon        CommandType = "uncordon"
	CmdDrain           CommandType = "drain"
	CmdHeartbeat       CommandType = "heartbeat"
	CmdSetHealth       CommandType = "setHealth"
	CmdSetBreaker      CommandType = "setBreaker"
	CmdSetMember       CommandType = "setMember"
	CmdRemoveMember    CommandType = "removeMember"
	// Task cache commands (state_cache.go).
	CmdCacheClaim CommandType = "cacheClaim"
	CmdCachePut   CommandType = "cachePut"
	CmdCacheEvict CommandType = "cacheEvict"
	// CmdArchive moves executions past retention to the archive
	// (state_archive.go).
	CmdArchive CommandType = "archive"
)

// Command is one change to the federation state, as replicated in the Raft
// log. Exactly the payload fields its Type names are used.
type Command struct {
	// Version must equal CommandVersion; Node.Apply fills it when zero.
	Version int         `json:"v"`
	Type    CommandType `json:"t"`
	// At is the proposer's clock. The FSM never reads the clock itself, so
	// every replica computes the same state. Node.Apply fills it when zero.
	At time.Time `json:"at"`

	// local marks the proposer's own copy of a submission or assignment,
	// which the leader's FSM applies as built (local_entries.go): a
	// submission's spec is then still the proposer's, and the state keeps
	// none of its parts.
	local bool

	// Submit carries a defaulted and validated spec (CmdSubmit).
	Submit *SubmitCmd `json:"submit,omitempty"`
	// Key names the execution to cancel (CmdCancel).
	Key *v1.ExecutionKey `json:"key,omitempty"`
	// Assign places a queued execution (CmdAssign).
	Assign *AssignCmd `json:"assign,omitempty"`
	// Report is an agent's status report (CmdReport).
	Report *ReportCmd `json:"report,omitempty"`
	// Requeue takes an execution off its cluster (CmdRequeue).
	Requeue *RequeueCmd `json:"requeue,omitempty"`
	// Cluster is the spec to register (CmdRegisterCluster).
	Cluster *v1.ClusterSpec `json:"cluster,omitempty"`
	// Name is the cluster of cordon, uncordon, remove, update, drain,
	// heartbeat, setHealth and setBreaker.
	Name string `json:"name,omitempty"`
	// Patch changes a cluster (CmdUpdateCluster).
	Patch *v1.ClusterPatch `json:"patch,omitempty"`
	// Deadline is the absolute drain deadline (CmdDrain).
	Deadline time.Time `json:"deadline,omitempty"`
	// Heartbeat renews a cluster's lease (CmdHeartbeat).
	Heartbeat *v1.Heartbeat `json:"heartbeat,omitempty"`
	// Healthy is the new health (CmdSetHealth).
	Healthy bool `json:"healthy,omitempty"`
	// Breaker is the new breaker state (CmdSetBreaker): v1.BreakerClosed,
	// v1.BreakerHalfOpen or v1.BreakerOpen.
	Breaker string `json:"breaker,omitempty"`
	// Member is the control-plane member to set or remove (CmdSetMember,
	// CmdRemoveMember; removal needs only the ID).
	Member *MemberMeta `json:"member,omitempty"`
	// CacheClaim, CachePut and CacheEvict are the task cache commands.
	CacheClaim *CacheClaimCmd `json:"cacheClaim,omitempty"`
	CachePut   *CachePutCmd   `json:"cachePut,omitempty"`
	CacheEvict *CacheEvictCmd `json:"cacheEvict,omitempty"`
	// Archive names the executions to archive (CmdArchive).
	Archive *ArchiveCmd `json:"archive,omitempty"`
}

// SubmitCmd submits an execution. Build it with NewSubmitCmd, which renders
// the spec once for both its hash and the log entry.
type SubmitCmd struct {
	// Spec is already defaulted and validated.
	Spec v1.ExecutionSpec `json:"spec"`
	// Hash is Spec's hash (v1.ExecutionSpec.Hash) as the proposer computed
	// it; the FSM stores it as is, so that no replica renders the spec again
	// on every apply. When it is empty (a command built without
	// NewSubmitCmd) the FSM computes it.
	Hash string `json:"hash,omitempty"`

	// canonical is Spec's canonical JSON (v1.ExecutionSpec.Canonical) when
	// NewSubmitCmd built the command: the log entry embeds these bytes
	// instead of encoding the spec a second time.
	canonical []byte
}

// NewSubmitCmd builds the submit command of a defaulted and validated spec.
func NewSubmitCmd(spec v1.ExecutionSpec) *SubmitCmd {
	return NewSubmitCmdCanonical(spec, spec.Canonical())
}

// NewSubmitCmdCanonical is NewSubmitCmd with the spec already rendered:
// canonical must be spec.Canonical()'s bytes, and is not copied.
func NewSubmitCmdCanonical(spec v1.ExecutionSpec, canonical []byte) *SubmitCmd {
	return &SubmitCmd{Spec: spec, Hash: v1.HashCanonical(canonical), canonical: canonical}
}

// Canonical returns the spec's canonical JSON when NewSubmitCmd built the
// command, else nil. The caller must not modify it.
func (c *SubmitCmd) Canonical() []byte { return c.canonical }

// AssignCmd places a queued execution on a cluster, fenced by its attempt.
type AssignCmd struct {
	Key     v1.ExecutionKey `json:"key"`
	Cluster string          `json:"cluster"`
	Attempt int             `json:"attempt"`
}

// ReportCmd is a status report from the agent of Cluster.
type ReportCmd struct {
	Cluster string          `json:"cluster"`
	Report  v1.StatusReport `json:"report"`
}

// RequeueCmd takes an execution off its cluster (lost cluster, drain
// deadline), fenced by its attempt.
type RequeueCmd struct {
	Key     v1.ExecutionKey `json:"key"`
	Attempt int             `json:"attempt"`
	Reason  string          `json:"reason"`
	Message string          `json:"message,omitempty"`
}

// MemberMeta is what the state knows of a control-plane member beyond Raft:
// its HTTP address, for forwarding requests to the leader.
type MemberMeta struct {
	ID          string `json:"id"`
	HTTPAddress string `json:"httpAddress,omitempty"`
}

// Result is the outcome of one command.
type Result struct {
	// Err is the command's own refusal, wrapping a sentinel (ErrNotFound,
	// ErrConflict, ...). A refused command changed nothing.
	Err error
	// Execution is a copy of the execution after the command.
	Execution *v1.Execution
	// Created is true when submit or register created the object, false on
	// an idempotent repeat.
	Created bool
	// Cluster is a copy of the cluster after the command.
	Cluster *v1.Cluster
	// Verdict answers a report.
	Verdict v1.ReportVerdict
	// Cache is the outcome of a cache command.
	Cache *CacheOutcome
	// Archived is how many executions an archive command moved.
	Archived int
}

// batchEntry is the envelope of one Raft log entry: a versioned batch of
// commands. Each command is kept raw so a malformed one fails alone.
type batchEntry struct {
	Version  int               `json:"v"`
	Commands []json.RawMessage `json:"cmds"`
}

// encodeCommand renders one command for a batch.
func encodeCommand(c *Command) (json.RawMessage, error) {
	if rendered(c) {
		if err := checkRenderTime(c); err != nil {
			return nil, err
		}
		return appendRendered(make([]byte, 0, renderedSize(c)), c), nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s command: %w", c.Type, err)
	}
	return b, nil
}

// encodeBatch builds a log entry from already encoded commands, without
// re-encoding them.
func encodeBatch(cmds []json.RawMessage) []byte { return appendEntryBatch(nil, cmds, nil) }

// appendEntryBatch appends the envelope of cmds to b. A command may have
// no encoding yet: a submission or assignment the leader proposed
// (local_entries.go), rendered here straight into the entry (local[i] is it
// when cmds[i] is nil), so that its encoding is never a garbage copy of its
// own.
func appendEntryBatch(b []byte, cmds []json.RawMessage, local []*Command) []byte {
	n := 16
	for i, c := range cmds {
		if c == nil {
			n += renderedSize(local[i])
		}
		n += len(c) + 1
	}
	b = slices.Grow(b, n)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, batchVersion, 10)
	b = append(b, `,"cmds":[`...)
	for i, c := range cmds {
		if i > 0 {
			b = append(b, ',')
		}
		if c == nil {
			b = appendRendered(b, local[i])
			continue
		}
		b = append(b, c...)
	}
	return append(b, "]}"...)
}

// decodedBatch is a log entry decoded in one pass, commands included.
type decodedBatch struct {
	Version  int       `json:"v"`
	Commands []Command `json:"cmds"`
}

// decodeBatchCommands decodes a log entry and all its commands in one pass,
// the common case. ok is false when the entry or any command in it does not
// decode or the version is not ours: then applyLog takes the slow path,
// which decodes each command on its own so that a bad one fails alone.
// The entries the batcher writes are decoded by hand (entry_decode.go), to
// exactly what reflection decodes them to; reflection takes the rest.
func decodeBatchCommands(data []byte) ([]Command, bool) {
	if cmds, ok := decodeEntryFast(data); ok {
		return cmds, true
	}
	var e decodedBatch
	if err := fastJSON.Unmarshal(data, &e); err != nil || e.Version != batchVersion {
		return nil, false
	}
	return e.Commands, true
}

// decodeBatch parses a log entry's envelope.
func decodeBatch(data []byte) (*batchEntry, error) {
	var e batchEntry
	if err := fastJSON.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode log entry: %w", err)
	}
	if e.Version != batchVersion {
		return nil, fmt.Errorf("%w: log entry version %d, want %d", ErrUnknownCommand, e.Version, batchVersion)
	}
	return &e, nil
}
