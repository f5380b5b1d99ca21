package testbed

// The contract between task pods and the testbed's kwok stages
// (stages/workflow-pod-*.yaml). Only pods with an ownerReference of kind
// Workflow, apiVersion workflow.federation.dev/v1alpha1, ever complete; all
// other pods stay Running, as a long-lived workload would.
const (
	// LabelWorkflowName is the label the propeller puts on every task pod.
	LabelWorkflowName = "workflow.federation.dev/name"
	// WorkflowAPIVersion and WorkflowKind identify the owner that makes a
	// pod complete.
	WorkflowAPIVersion = "workflow.federation.dev/v1alpha1"
	WorkflowKind       = "Workflow"
	// AnnotationResult is "Succeeded" (the default) or "Failed" (exit 1).
	AnnotationResult = "sim.federation.dev/result"
	// AnnotationDelay is a Go duration ("2s") the pod stays Running before
	// it completes; default 0.
	AnnotationDelay = "sim.federation.dev/delay"
	// AnnotationOutputs becomes every container's
	// state.terminated.message when the pod completes.
	AnnotationOutputs = "sim.federation.dev/outputs"
	// EnvOutputs, an environment variable of a pod's container, is that
	// container's termination message when AnnotationOutputs is absent:
	// a task spec can so declare its outputs (node env reaches the pod).
	EnvOutputs = "SIM_OUTPUTS"
)
