package propeller

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
)

// Names the loop puts on the objects it creates.
const (
	// LabelWorkflow carries the owning workflow's name on every task pod.
	LabelWorkflow = "workflow.federation.dev/name"
	// LabelNode carries the node id on every task pod.
	LabelNode = "workflow.federation.dev/node"
	// LabelAttempt carries the node attempt on every task pod.
	LabelAttempt = "workflow.federation.dev/node-attempt"
	// SimAnnotationPrefix marks workflow annotations copied to its pods.
	SimAnnotationPrefix = "sim.federation.dev/"
	// ContainerName is the name of a task pod's only container.
	ContainerName = "task"
	// InputEnvPrefix starts the name of every input environment variable.
	InputEnvPrefix = "FED_INPUT_"
	// ResourceGPU is the extended resource a node's gpu request asks for.
	ResourceGPU corev1.ResourceName = "nvidia.com/gpu"
)

// PodName is the deterministic name of a node attempt's pod: a create that is
// retried after a lost answer finds the first one instead of making a second.
func PodName(workflow, node string, attempt int32) string {
	return workflow + "-" + node + "-" + strconv.Itoa(int(attempt))
}

// InputEnvName maps an input name to its environment variable.
func InputEnvName(input string) string {
	b := []byte(strings.ToUpper(input))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return InputEnvPrefix + string(b)
}

// buildPod renders one attempt of a node as a pod. inputs are the resolved
// input values.
func buildPod(wf *wfv1.Workflow, n *wfv1.TaskNode, attempt int32, inputs map[string]string, scheme *runtime.Scheme) (*corev1.Pod, error) {
	var env []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(n.Env)) {
		env = append(env, corev1.EnvVar{Name: k, Value: n.Env[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		env = append(env, corev1.EnvVar{Name: InputEnvName(k), Value: inputs[k]})
	}
	req := corev1.ResourceList{}
	var lim corev1.ResourceList
	if q := n.Resources.CPU; q != nil {
		req[corev1.ResourceCPU] = *q
	}
	if q := n.Resources.Memory; q != nil {
		req[corev1.ResourceMemory] = *q
	}
	if q := n.Resources.GPU; q != nil && !q.IsZero() {
		// Extended resources cannot be overcommitted: the API server wants
		// the limit equal to the request.
		req[ResourceGPU] = *q
		lim = corev1.ResourceList{ResourceGPU: *q}
	}
	var ann map[string]string
	for k, v := range wf.Annotations {
		if strings.HasPrefix(k, SimAnnotationPrefix) {
			if ann == nil {
				ann = map[string]string{}
			}
			ann[k] = v
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      PodName(wf.Name, n.ID, attempt),
			Namespace: wf.Namespace,
			Labels: map[string]string{
				LabelWorkflow: wf.Name,
				LabelNode:     n.ID,
				LabelAttempt:  strconv.Itoa(int(attempt)),
			},
			Annotations: ann,
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			// A task has no business with the member's API: no token is
			// mounted. (It also keeps the projected token volume, its
			// mount and their status out of every pod object the API
			// server stores, encodes and sends to each watcher.)
			AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{
				Name:                     ContainerName,
				Image:                    n.Image,
				Command:                  n.Command,
				Args:                     n.Args,
				Env:                      env,
				Resources:                corev1.ResourceRequirements{Requests: req, Limits: lim},
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
	}
	if err := controllerutil.SetControllerReference(wf, pod, scheme); err != nil {
		return nil, fmt.Errorf("owner reference on pod %s: %w", pod.Name, err)
	}
	return pod, nil
}

// taskTermination returns the task container's terminated state, if any.
func taskTermination(pod *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == ContainerName {
			return cs.State.Terminated
		}
	}
	return nil
}

// podOutputs decodes a succeeded pod's outputs from its termination message.
func podOutputs(pod *corev1.Pod) (map[string]string, error) {
	t := taskTermination(pod)
	if t == nil || strings.TrimSpace(t.Message) == "" {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t.Message), &raw); err != nil {
		return nil, fmt.Errorf("termination message is not a JSON object: %w", err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out, nil
}

// podFailure says why a failed pod failed, as a user would want to read it.
func podFailure(pod *corev1.Pod) string {
	msg := "pod " + pod.Name + " failed"
	if pod.Status.Reason != "" {
		msg += ": " + pod.Status.Reason
	}
	if pod.Status.Message != "" {
		msg += ": " + pod.Status.Message
	}
	if t := taskTermination(pod); t != nil {
		msg += fmt.Sprintf(": exit code %d", t.ExitCode)
		if t.Reason != "" {
			msg += " (" + t.Reason + ")"
		}
		if m := strings.TrimSpace(t.Message); m != "" {
			msg += ": " + truncate(m, 512)
		}
	}
	return msg
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
