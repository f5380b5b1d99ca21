package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	wfv1 "github.com/federation-dev/federation/api/workflow/v1alpha1"
	"github.com/federation-dev/federation/clusteragent/propeller"
)

// Capacity sums allocatable cpu, memory, nvidia.com/gpu and pods over the
// schedulable nodes (Ready and not cordoned) and subtracts the requests of
// the non-terminal pods bound to them. Free never goes below zero. Both come
// from the cache, so a heartbeat costs the API server nothing; they are read
// without the cache's deep copies (nothing here writes to them), which on a
// busy cluster were most of a heartbeat's cost.
func (b *Backend) Capacity(ctx context.Context) (v1.Capacity, error) {
	var nodes corev1.NodeList
	if err := b.cache.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		return v1.Capacity{}, fmt.Errorf("capacity: list nodes: %w", err)
	}
	var pods corev1.PodList
	if err := b.cache.List(ctx, &pods, client.UnsafeDisableDeepCopy); err != nil {
		return v1.Capacity{}, fmt.Errorf("capacity: list pods: %w", err)
	}
	var wfs wfv1.WorkflowList
	if err := b.cache.List(ctx, &wfs, client.UnsafeDisableDeepCopy); err != nil {
		return v1.Capacity{}, fmt.Errorf("capacity: list workflows: %w", err)
	}
	var c v1.Capacity
	schedulable := map[string]bool{}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if !Schedulable(n) {
			continue
		}
		schedulable[n.Name] = true
		c.Allocatable = c.Allocatable.Add(amounts(n.Status.Allocatable, 0))
	}
	var used v1.Amounts
	for i := range pods.Items {
		p := &pods.Items[i]
		if !schedulable[p.Spec.NodeName] || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		used = used.Add(amounts(PodRequests(p), 1))
	}
	c.Free = c.Allocatable.Sub(used).Max(v1.Amounts{})
	for i := range wfs.Items {
		if !wfs.Items[i].Status.Phase.Terminal() {
			c.RunningWorkflows++
		}
	}
	return c, nil
}

// Schedulable reports whether new pods can land on n: not cordoned, and
// Ready.
func Schedulable(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// amounts converts a resource list; pods, when non-zero, overrides the
// list's pod count (a pod's requests name none, but it takes one slot).
func amounts(l corev1.ResourceList, pods int64) v1.Amounts {
	a := v1.Amounts{
		MilliCPU:    quantity(l, corev1.ResourceCPU).MilliValue(),
		MemoryBytes: quantity(l, corev1.ResourceMemory).Value(),
		GPU:         quantity(l, propeller.ResourceGPU).Value(),
		Pods:        quantity(l, corev1.ResourcePods).Value(),
	}
	if pods != 0 {
		a.Pods = pods
	}
	return a
}

func quantity(l corev1.ResourceList, name corev1.ResourceName) *resource.Quantity {
	if q, ok := l[name]; ok {
		return &q
	}
	return &resource.Quantity{}
}

// PodRequests is what a pod holds on its node, as the scheduler counts it:
// the larger of its containers' requests (plus sidecars) and of any one init
// container's (plus the sidecars started before it), plus the pod overhead.
func PodRequests(p *corev1.Pod) corev1.ResourceList {
	total := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		addTo(total, c.Resources.Requests)
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addTo(sidecars, c.Resources.Requests)
			continue
		}
		one := corev1.ResourceList{}
		addTo(one, c.Resources.Requests)
		addTo(one, sidecars)
		maxInto(initMax, one)
	}
	addTo(total, sidecars)
	maxInto(total, initMax)
	addTo(total, p.Spec.Overhead)
	return total
}

func addTo(dst, src corev1.ResourceList) {
	for k, v := range src {
		q := dst[k]
		q.Add(v)
		dst[k] = q
	}
}

func maxInto(dst, src corev1.ResourceList) {
	for k, v := range src {
		if q, ok := dst[k]; !ok || v.Cmp(q) > 0 {
			dst[k] = v.DeepCopy()
		}
	}
}
