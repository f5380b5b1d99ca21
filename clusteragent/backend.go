package clusteragent

import (
	"context"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Backend runs workflows on one member cluster: Kubernetes (the Workflow
// CRD and its propeller loop) in production, an in-memory simulation for
// demos and large benchmarks. The session drives it from the assignments it
// leases and reports what List shows.
type Backend interface {
	// Start runs an assignment. It is idempotent by key and attempt: a
	// workflow that already exists for them is left as it is.
	Start(ctx context.Context, a v1.Assignment) error
	// Abort stops a workflow's tasks and moves it to Aborted. Idempotent;
	// aborting an unknown workflow is not an error.
	Abort(ctx context.Context, key v1.ExecutionKey, attempt int) error
	// Delete forgets a workflow (after abort or once its final state was
	// reported). Idempotent.
	Delete(ctx context.Context, key v1.ExecutionKey, attempt int) error
	// List returns every workflow the backend holds.
	List(ctx context.Context) ([]WorkflowState, error)
	// Capacity returns the cluster's allocatable and free resources.
	Capacity(ctx context.Context) (v1.Capacity, error)
	// Changes ticks (coalesced) when a workflow's state changed, so that
	// reports go out promptly instead of on the next poll.
	Changes() <-chan struct{}
}

// WorkflowState is what a backend knows of one workflow.
type WorkflowState struct {
	Key     v1.ExecutionKey
	Attempt int
	Phase   v1.ExecutionPhase
	Message string
	Nodes   map[string]v1.NodeStatus
	Outputs map[string]string
	// Version, if not empty, changes whenever anything above may have
	// changed (the kube backend's resourceVersion): the session then works
	// out what to report of a workflow only when it changed, rather than
	// on every round.
	Version string
}
