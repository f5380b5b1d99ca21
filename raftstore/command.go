package raftstore

import (
	"encoding/json"
	"fmt"
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
}

// SubmitCmd submits an execution.
type SubmitCmd struct {
	// Spec is already defaulted and validated; the FSM stores its hash.
	Spec v1.ExecutionSpec `json:"spec"`
}

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
}

// batchEntry is the envelope of one Raft log entry: a versioned batch of
// commands. Each command is kept raw so a malformed one fails alone.
type batchEntry struct {
	Version  int               `json:"v"`
	Commands []json.RawMessage `json:"cmds"`
}

// encodeCommand renders one command for a batch.
func encodeCommand(c *Command) (json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s command: %w", c.Type, err)
	}
	return b, nil
}

// encodeBatch builds a log entry from already encoded commands, without
// re-encoding them.
func encodeBatch(cmds []json.RawMessage) []byte {
	n := 16
	for _, c := range cmds {
		n += len(c) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"v":`...)
	b = fmt.Appendf(b, "%d", batchVersion)
	b = append(b, `,"cmds":[`...)
	for i, c := range cmds {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c...)
	}
	return append(b, "]}"...)
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
