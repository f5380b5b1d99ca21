package v1alpha1

import "time"

// Heartbeat is what an agent sends to renew its cluster's lease.
type Heartbeat struct {
	Capacity     Capacity `json:"capacity"`
	AgentVersion string   `json:"agentVersion"`
}

// HeartbeatResponse tells the agent how the federation sees its cluster.
type HeartbeatResponse struct {
	State   ClusterState `json:"state"`
	Healthy bool         `json:"healthy"`
	// LeaseDuration is how long the lease lasts without another heartbeat.
	LeaseDuration Duration `json:"leaseDuration"`
	// FailoverGrace is how long after the lease expired the federation
	// requeues the cluster's executions elsewhere. An agent cut off from
	// the federation must stop its workflows before then.
	FailoverGrace Duration `json:"failoverGrace,omitzero"`
}

// Assignment is one execution the federation wants on a cluster, fenced by
// its attempt number.
type Assignment struct {
	ExecutionSpec
	Attempt int            `json:"attempt"`
	Phase   ExecutionPhase `json:"phase"`
	// Resume holds the nodes that already succeeded in an earlier attempt,
	// whose outputs were reported; the agent does not run them again.
	Resume map[string]NodeStatus `json:"resume,omitempty"`
}

// AssignmentList is the full set of executions a cluster should hold. Agents
// long-poll it with ?after=Revision: the answer comes when it changes.
type AssignmentList struct {
	Items    []Assignment `json:"items"`
	Revision uint64       `json:"revision"`
}

// StatusReport is an agent's report of one execution's progress.
type StatusReport struct {
	ExecutionKey
	Attempt int                   `json:"attempt"`
	Phase   ExecutionPhase        `json:"phase"`
	Message string                `json:"message,omitempty"`
	Nodes   map[string]NodeStatus `json:"nodes,omitempty"`
	Outputs map[string]string     `json:"outputs,omitempty"`
	At      time.Time             `json:"at"`
}

// ReportBatch carries several reports at once.
type ReportBatch struct {
	Reports []StatusReport `json:"reports"`
}

// ReportVerdict is the federation's answer to one report.
type ReportVerdict string

// Report verdicts. Stale tells the agent to abort its copy: the attempt was
// superseded or the execution is not assigned to this cluster.
const (
	VerdictAccepted ReportVerdict = "accepted"
	VerdictStale    ReportVerdict = "stale"
	VerdictUnknown  ReportVerdict = "unknown"
)

// ReportResult is the verdict on one report of a batch, in order.
type ReportResult struct {
	ExecutionKey
	Attempt int           `json:"attempt"`
	Verdict ReportVerdict `json:"verdict"`
}

// ReportBatchResponse answers a ReportBatch.
type ReportBatchResponse struct {
	Results []ReportResult `json:"results"`
}
