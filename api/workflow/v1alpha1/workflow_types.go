package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workflow is one attempt of one federation execution on a member cluster:
// a DAG of task nodes, each run as a pod, driven by the agent's propeller
// loop. Its status holds the whole state of the run, so a restarted agent
// resumes where it stopped.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=wf,categories=federation
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Execution",type=string,JSONPath=`.spec.execution.name`
// +kubebuilder:printcolumn:name="Attempt",type=integer,JSONPath=`.spec.attempt`
type Workflow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkflowSpec   `json:"spec"`
	Status WorkflowStatus `json:"status,omitempty"`
}

// WorkflowList is a list of Workflows.
//
// +kubebuilder:object:root=true
type WorkflowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workflow `json:"items"`
}

// WorkflowSpec is what to run: the DAG, its inputs, and which federation
// execution and attempt it belongs to.
type WorkflowSpec struct {
	// Execution names the federation execution this workflow runs.
	Execution ExecutionRef `json:"execution"`
	// Attempt is the federation's attempt number, its fencing token.
	// +kubebuilder:validation:Minimum=1
	Attempt int32 `json:"attempt"`
	// Tier is the execution's quality-of-service tier.
	// +kubebuilder:validation:Enum=critical;standard;best-effort
	// +optional
	Tier string `json:"tier,omitempty"`
	// Inputs are the workflow inputs that node bindings read with fromInput.
	// +optional
	Inputs map[string]string `json:"inputs,omitempty"`
	// Nodes is the DAG: every node runs once all of its dependsOn succeeded.
	// +kubebuilder:validation:MinItems=1
	// +listType=map
	// +listMapKey=id
	Nodes []TaskNode `json:"nodes"`
	// Abort cancels the workflow: its pods are deleted and it ends Aborted.
	// +optional
	Abort bool `json:"abort,omitempty"`
	// Resume holds nodes that already succeeded in an earlier attempt: they
	// are marked Succeeded with these outputs and no pod is created for them.
	// +optional
	Resume map[string]NodeResume `json:"resume,omitempty"`
	// TTLAfterFinished is how long a finished workflow (and its pods) is kept
	// before it is deleted.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	TTLAfterFinished *metav1.Duration `json:"ttlAfterFinished,omitempty"`
}

// ExecutionRef identifies a federation execution.
type ExecutionRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Project string `json:"project"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Domain string `json:"domain"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
}

// TaskNode is one task of the DAG: a container run as a pod. Its fields have
// the shape of the federation's TaskNode, with Kubernetes types where they
// exist.
type TaskNode struct {
	// ID names the node; it is part of its pods' names.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ID string `json:"id"`
	// DependsOn lists the nodes that must succeed before this one starts.
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Image string `json:"image"`
	// +optional
	Command []string `json:"command,omitempty"`
	// +optional
	Args []string `json:"args,omitempty"`
	// +optional
	Env map[string]string `json:"env,omitempty"`
	// Resources are the pod's requests.
	// +optional
	Resources Resources `json:"resources,omitempty"`
	// Inputs bind the node's inputs; each reaches the pod as the environment
	// variable FED_INPUT_<NAME>.
	// +optional
	Inputs map[string]Binding `json:"inputs,omitempty"`
	// Retries is how many times a failed node is run again.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Retries int32 `json:"retries,omitempty"`
	// Timeout bounds one run of the node, from its pod's creation (time
	// waiting to be scheduled counts); a run past it counts as failed.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Cache marks the node's outputs as reusable by key. The federation
	// resolves cache hits and hands them over as Resume entries.
	// +optional
	Cache *CacheSpec `json:"cache,omitempty"`
}

// CacheSpec marks a node's outputs as reusable by key.
type CacheSpec struct {
	Version string `json:"version"`
}

// Binding gives a node input its value: exactly one of a workflow input, an
// upstream node's output, or a literal.
type Binding struct {
	// +optional
	FromInput string `json:"fromInput,omitempty"`
	// +optional
	FromNode string `json:"fromNode,omitempty"`
	// Output names the output of FromNode.
	// +optional
	Output string `json:"output,omitempty"`
	// +optional
	Value *string `json:"value,omitempty"`
}

// Resources are a task's requests.
type Resources struct {
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
	// GPU is requested as nvidia.com/gpu.
	// +optional
	GPU *resource.Quantity `json:"gpu,omitempty"`
}

// NodeResume is a node that succeeded in an earlier attempt.
type NodeResume struct {
	// +optional
	Outputs map[string]string `json:"outputs,omitempty"`
	// Cached says the earlier result was itself a cache hit.
	// +optional
	Cached bool `json:"cached,omitempty"`
	// Attempts is how many pods the node took in the earlier attempt, kept
	// so that reports do not reset it.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
}

// WorkflowPhase is where a workflow is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Aborting;Aborted
type WorkflowPhase string

// Workflow phases. Running → Succeeded | Failed; an abort moves a live
// workflow through Aborting (pods being deleted) to Aborted. Pending is how
// a workflow the loop has not reconciled yet reads: the loop itself leaves
// an empty phase straight for Running, sparing a write.
const (
	WorkflowPending   WorkflowPhase = "Pending"
	WorkflowRunning   WorkflowPhase = "Running"
	WorkflowSucceeded WorkflowPhase = "Succeeded"
	WorkflowFailed    WorkflowPhase = "Failed"
	WorkflowAborting  WorkflowPhase = "Aborting"
	WorkflowAborted   WorkflowPhase = "Aborted"
)

// Terminal reports whether the workflow is finished.
func (p WorkflowPhase) Terminal() bool {
	return p == WorkflowSucceeded || p == WorkflowFailed || p == WorkflowAborted
}

// NodePhase is where a task node is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped;Aborted
type NodePhase string

// Node phases. Skipped: an upstream node failed; Aborted: the workflow was
// aborted before the node finished.
const (
	NodePending   NodePhase = "Pending"
	NodeRunning   NodePhase = "Running"
	NodeSucceeded NodePhase = "Succeeded"
	NodeFailed    NodePhase = "Failed"
	NodeSkipped   NodePhase = "Skipped"
	NodeAborted   NodePhase = "Aborted"
)

// Terminal reports whether the node is finished.
func (p NodePhase) Terminal() bool {
	return p == NodeSucceeded || p == NodeFailed || p == NodeSkipped || p == NodeAborted
}

// WorkflowStatus is the state of the run. The propeller loop keeps all of it
// here, never in memory, and never relies on a pod still existing once the
// node it ran is recorded finished.
type WorkflowStatus struct {
	// +optional
	Phase WorkflowPhase `json:"phase,omitempty"`
	// Nodes holds the state of every node, by id.
	// +optional
	Nodes map[string]NodeStatus `json:"nodes,omitempty"`
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Outputs are the outputs of the leaf nodes (those no node depends on),
	// each keyed "<node>.<output>".
	// +optional
	Outputs map[string]string `json:"outputs,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the spec generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// NodeStatus is the state of one task node.
type NodeStatus struct {
	Phase NodePhase `json:"phase"`
	// Attempts is how many pods were started for the node.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// PodName is the pod of the current (or last) attempt.
	// +optional
	PodName string `json:"podName,omitempty"`
	// +optional
	Outputs map[string]string `json:"outputs,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// StartedAt is when the current attempt's pod was created.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// +optional
	Cached bool `json:"cached,omitempty"`
	// Resumed says the node succeeded in an earlier attempt.
	// +optional
	Resumed bool `json:"resumed,omitempty"`
}

// Condition types of a Workflow.
const (
	// ConditionFinished is set True when the workflow reaches a terminal
	// phase, with that phase as its reason. It is absent before, so that
	// a running workflow costs no condition writes.
	ConditionFinished = "Finished"
)
