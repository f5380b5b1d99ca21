package v1alpha1

import (
	"encoding/json"
	"time"
)

// Tier is the quality-of-service tier of an execution.
type Tier string

// The tiers, highest priority first.
const (
	TierCritical   Tier = "critical"
	TierStandard   Tier = "standard"
	TierBestEffort Tier = "best-effort"
)

// Tiers lists every tier, highest priority first.
var Tiers = []Tier{TierCritical, TierStandard, TierBestEffort}

// Rank orders tiers: a lower rank is placed first. Unknown tiers rank last.
func (t Tier) Rank() int {
	switch t {
	case TierCritical:
		return 0
	case TierStandard:
		return 1
	case TierBestEffort:
		return 2
	}
	return 3
}

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool { return t.Rank() < 3 }

// ExecutionPhase is where an execution is in its life.
type ExecutionPhase string

// Execution phases. Queued → Assigned → Running → Succeeded | Failed | Aborted;
// a lost or drained cluster moves a live execution back to Queued with a new
// attempt; cancel moves it through Aborting to Aborted.
const (
	PhaseQueued    ExecutionPhase = "Queued"
	PhaseAssigned  ExecutionPhase = "Assigned"
	PhaseRunning   ExecutionPhase = "Running"
	PhaseSucceeded ExecutionPhase = "Succeeded"
	PhaseFailed    ExecutionPhase = "Failed"
	PhaseAborting  ExecutionPhase = "Aborting"
	PhaseAborted   ExecutionPhase = "Aborted"
)

// ExecutionPhases lists every phase.
var ExecutionPhases = []ExecutionPhase{PhaseQueued, PhaseAssigned, PhaseRunning, PhaseSucceeded, PhaseFailed, PhaseAborting, PhaseAborted}

// Terminal reports whether no further transition can happen.
func (p ExecutionPhase) Terminal() bool {
	return p == PhaseSucceeded || p == PhaseFailed || p == PhaseAborted
}

// OnCluster reports whether an execution in this phase occupies a cluster.
func (p ExecutionPhase) OnCluster() bool {
	return p == PhaseAssigned || p == PhaseRunning || p == PhaseAborting
}

// Valid reports whether p is a known phase.
func (p ExecutionPhase) Valid() bool {
	for _, q := range ExecutionPhases {
		if p == q {
			return true
		}
	}
	return false
}

// ExecutionKey identifies an execution: submission is idempotent by it.
type ExecutionKey struct {
	Project string `json:"project"`
	Domain  string `json:"domain"`
	Name    string `json:"name"`
}

// String renders the key as project/domain/name, which is also its path.
func (k ExecutionKey) String() string { return k.Project + "/" + k.Domain + "/" + k.Name }

// ExecutionSpec is what a user submits. Its field names are part of the API
// contract: add fields, never rename them.
type ExecutionSpec struct {
	Project         string         `json:"project"`
	Domain          string         `json:"domain"`
	Name            string         `json:"name"`
	Tier            Tier           `json:"tier,omitempty"`
	ClusterSelector *LabelSelector `json:"clusterSelector,omitempty"`
	// PreferredLabels score clusters that carry them higher without
	// excluding the others.
	PreferredLabels map[string]string `json:"preferredLabels,omitempty"`
	Inputs          map[string]string `json:"inputs,omitempty"`
	Workflow        WorkflowSpec      `json:"workflow"`
	// MaxAttempts bounds how often the execution is placed; a lost cluster
	// past this fails it with reason ClusterLost. Zero means DefaultMaxAttempts.
	MaxAttempts int `json:"maxAttempts,omitempty"`
}

// DefaultMaxAttempts is used when a spec sets no MaxAttempts.
const DefaultMaxAttempts = 5

// Key returns the identity of the spec.
func (s *ExecutionSpec) Key() ExecutionKey {
	return ExecutionKey{Project: s.Project, Domain: s.Domain, Name: s.Name}
}

// WorkflowSpec is a DAG of task nodes.
type WorkflowSpec struct {
	Nodes []TaskNode `json:"nodes"`
}

// TaskNode is one task of a workflow: a container run as a pod.
type TaskNode struct {
	ID        string             `json:"id"`
	DependsOn []string           `json:"dependsOn,omitempty"`
	Image     string             `json:"image"`
	Command   []string           `json:"command,omitempty"`
	Args      []string           `json:"args,omitempty"`
	Env       map[string]string  `json:"env,omitempty"`
	Resources Resources          `json:"resources,omitempty"`
	Inputs    map[string]Binding `json:"inputs,omitempty"`
	// Retries is how many times a failed node is run again.
	Retries int `json:"retries,omitempty"`
	// Timeout bounds one run of the node, as a Go duration ("30m").
	Timeout string     `json:"timeout,omitempty"`
	Cache   *CacheSpec `json:"cache,omitempty"`
}

// CacheSpec marks a node's outputs as reusable by key.
type CacheSpec struct {
	Version string `json:"version"`
}

// Binding gives a node input its value: a workflow input, an upstream node's
// output, or a literal.
type Binding struct {
	FromInput string  `json:"fromInput,omitempty"`
	FromNode  string  `json:"fromNode,omitempty"`
	Output    string  `json:"output,omitempty"`
	Value     *string `json:"value,omitempty"`
}

// Resources are a task's requests, as Kubernetes quantities ("500m", "4Gi").
type Resources struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	GPU    string `json:"gpu,omitempty"`
}

// Execution is an execution as the federation holds it: the spec plus where
// it runs and how it went.
type Execution struct {
	ExecutionSpec
	// SpecHash identifies the spec; a resubmission with another hash is a conflict.
	SpecHash  string         `json:"specHash"`
	Phase     ExecutionPhase `json:"phase"`
	Cluster   string         `json:"cluster,omitempty"`
	Attempt   int            `json:"attempt"`
	Message   string         `json:"message,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
	// Seq orders executions by submission; it is the commit order.
	Seq     uint64                `json:"seq"`
	History []PhaseTransition     `json:"history,omitempty"`
	Nodes   map[string]NodeStatus `json:"nodes,omitempty"`
	Outputs map[string]string     `json:"outputs,omitempty"`
}

// PhaseTransition is one entry of an execution's status history.
type PhaseTransition struct {
	Phase   ExecutionPhase `json:"phase"`
	Cluster string         `json:"cluster,omitempty"`
	Attempt int            `json:"attempt"`
	Reason  string         `json:"reason,omitempty"`
	Message string         `json:"message,omitempty"`
	At      time.Time      `json:"at"`
}

// NodePhase is where a task node is.
type NodePhase string

// Node phases.
const (
	NodePending   NodePhase = "Pending"
	NodeRunning   NodePhase = "Running"
	NodeSucceeded NodePhase = "Succeeded"
	NodeFailed    NodePhase = "Failed"
	NodeSkipped   NodePhase = "Skipped"
	NodeAborted   NodePhase = "Aborted"
)

// NodeStatus is the last reported state of one task node.
type NodeStatus struct {
	Phase    NodePhase         `json:"phase"`
	Attempts int               `json:"attempts,omitempty"`
	Outputs  map[string]string `json:"outputs,omitempty"`
	Message  string            `json:"message,omitempty"`
	Cached   bool              `json:"cached,omitempty"`
	// StartedAt and FinishedAt bound the node's last run on a cluster, by
	// the agent's clock: usage accounting charges Requests for that span.
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Requests are what the node's pod requested while it ran.
	Requests *Amounts `json:"requests,omitempty"`
	// Cluster is where the node ran; the control plane stamps it from the
	// reporting agent, so usage stays with the right cluster across attempts.
	Cluster string `json:"cluster,omitempty"`
}

// Reasons recorded on executions.
const (
	ReasonSubmitted     = "Submitted"
	ReasonPlaced        = "Placed"
	ReasonClusterLost   = "ClusterLost"
	ReasonDrainDeadline = "DrainDeadline"
	ReasonCancelled     = "Cancelled"
	ReasonAgentReported = "AgentReported"
)

// ExecutionList is a page of executions.
type ExecutionList struct {
	Items []Execution `json:"items"`
	// Continue, when set, fetches the next page.
	Continue string `json:"continue,omitempty"`
}

// MarshalSpec renders a spec canonically, for hashing and comparison.
func MarshalSpec(s *ExecutionSpec) ([]byte, error) { return json.Marshal(s) }
