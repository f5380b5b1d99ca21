package kube

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
)

// workflowFor renders an assignment as the Workflow that runs it.
func workflowFor(a v1.Assignment, namespace string) (*wfv1.Workflow, error) {
	key := a.Key()
	nodes := make([]wfv1.TaskNode, 0, len(a.Workflow.Nodes))
	ids := make(map[string]bool, len(a.Workflow.Nodes))
	for _, n := range a.Workflow.Nodes {
		tn, err := taskNode(n)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.ID, err)
		}
		nodes = append(nodes, tn)
		ids[n.ID] = true
	}
	var resume map[string]wfv1.NodeResume
	for id, st := range a.Resume {
		// Only nodes of this DAG that succeeded are skipped; anything else
		// runs again, which is the safe side.
		if !ids[id] || (st.Phase != "" && st.Phase != v1.NodeSucceeded) {
			continue
		}
		if resume == nil {
			resume = map[string]wfv1.NodeResume{}
		}
		resume[id] = wfv1.NodeResume{Outputs: maps.Clone(st.Outputs), Cached: st.Cached, Attempts: int32(st.Attempts)}
	}
	return &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{
			Name:      WorkflowName(key, a.Attempt),
			Namespace: namespace,
			Labels: map[string]string{
				LabelProject:   key.Project,
				LabelDomain:    key.Domain,
				LabelExecution: key.Name,
				LabelAttempt:   strconv.Itoa(a.Attempt),
			},
		},
		Spec: wfv1.WorkflowSpec{
			Execution: wfv1.ExecutionRef{Project: key.Project, Domain: key.Domain, Name: key.Name},
			Attempt:   int32(a.Attempt),
			Tier:      string(a.Tier),
			Inputs:    maps.Clone(a.Inputs),
			Nodes:     nodes,
			Resume:    resume,
		},
	}, nil
}

func taskNode(n v1.TaskNode) (wfv1.TaskNode, error) {
	tn := wfv1.TaskNode{
		ID:        n.ID,
		DependsOn: n.DependsOn,
		Image:     n.Image,
		Command:   n.Command,
		Args:      n.Args,
		Env:       maps.Clone(n.Env),
		Retries:   int32(n.Retries),
	}
	for _, f := range []struct {
		name, v string
		dst     **resource.Quantity
	}{{"cpu", n.Resources.CPU, &tn.Resources.CPU}, {"memory", n.Resources.Memory, &tn.Resources.Memory}, {"gpu", n.Resources.GPU, &tn.Resources.GPU}} {
		if f.v == "" {
			continue
		}
		q, err := resource.ParseQuantity(f.v)
		if err != nil {
			return tn, fmt.Errorf("resources.%s %q: %w", f.name, f.v, err)
		}
		*f.dst = &q
	}
	if n.Timeout != "" {
		d, err := time.ParseDuration(n.Timeout)
		if err != nil || d <= 0 {
			return tn, fmt.Errorf("timeout %q: want a positive Go duration", n.Timeout)
		}
		tn.Timeout = &metav1.Duration{Duration: d}
	}
	if n.Cache != nil {
		tn.Cache = &wfv1.CacheSpec{Version: n.Cache.Version}
	}
	if len(n.Inputs) > 0 {
		tn.Inputs = make(map[string]wfv1.Binding, len(n.Inputs))
		for k, b := range n.Inputs {
			tn.Inputs[k] = wfv1.Binding{FromInput: b.FromInput, FromNode: b.FromNode, Output: b.Output, Value: b.Value}
		}
	}
	return tn, nil
}

// Phase maps a Workflow to the execution phase the federation is told:
//   - not yet seen by the loop (no phase), Pending, Running → Running: the
//     cluster accepted the attempt and owns it;
//   - spec.abort set on a live workflow → Aborting, until the loop confirms;
//   - Aborting, Succeeded, Failed, Aborted → the phase of the same name.
func Phase(wf *wfv1.Workflow) v1.ExecutionPhase {
	switch wf.Status.Phase {
	case wfv1.WorkflowSucceeded:
		return v1.PhaseSucceeded
	case wfv1.WorkflowFailed:
		return v1.PhaseFailed
	case wfv1.WorkflowAborted:
		return v1.PhaseAborted
	case wfv1.WorkflowAborting:
		return v1.PhaseAborting
	}
	if wf.Spec.Abort {
		return v1.PhaseAborting
	}
	return v1.PhaseRunning
}

// stateOf maps a Workflow to what the backend reports of it. Nodes the loop
// has not recorded yet are Pending.
func stateOf(wf *wfv1.Workflow) clusteragent.WorkflowState {
	nodes := make(map[string]v1.NodeStatus, len(wf.Spec.Nodes))
	for _, n := range wf.Spec.Nodes {
		st, ok := wf.Status.Nodes[n.ID]
		if !ok {
			nodes[n.ID] = v1.NodeStatus{Phase: v1.NodePending}
			continue
		}
		ns := v1.NodeStatus{
			Phase:    v1.NodePhase(st.Phase),
			Attempts: int(st.Attempts),
			Outputs:  maps.Clone(st.Outputs),
			Message:  st.Message,
			Cached:   st.Cached,
		}
		if st.StartedAt != nil && !st.Resumed {
			// Usage accounting charges the pod's requests for this span; a
			// resumed node ran in an earlier attempt and is charged there.
			ns.StartedAt = &st.StartedAt.Time
			if st.FinishedAt != nil {
				ns.FinishedAt = &st.FinishedAt.Time
			}
			req := requestsOf(n.Resources)
			ns.Requests = &req
		}
		nodes[n.ID] = ns
	}
	return clusteragent.WorkflowState{
		Key:     v1.ExecutionKey{Project: wf.Spec.Execution.Project, Domain: wf.Spec.Execution.Domain, Name: wf.Spec.Execution.Name},
		Attempt: int(wf.Spec.Attempt),
		Phase:   Phase(wf),
		Message: wf.Status.Message,
		Nodes:   nodes,
		Outputs: maps.Clone(wf.Status.Outputs),
		Version: string(wf.UID) + "/" + wf.ResourceVersion,
	}
}

// requestsOf converts a node's requests to base units, for usage accounting.
func requestsOf(r wfv1.Resources) v1.Amounts {
	a := v1.Amounts{Pods: 1}
	if r.CPU != nil {
		a.MilliCPU = r.CPU.MilliValue()
	}
	if r.Memory != nil {
		a.MemoryBytes = r.Memory.Value()
	}
	if r.GPU != nil {
		a.GPU = r.GPU.Value()
	}
	return a
}
