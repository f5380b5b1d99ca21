package testbed

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

const (
	// fakeNodeAnnotation marks the nodes kwok manages (its
	// --manage-nodes-with-annotation-selector), as in kwok's own docs.
	fakeNodeAnnotation = "kwok.x-k8s.io/node"
	fakeNodeValue      = "fake"
	// GPUResource is the extended resource NodeSpec.GPU sets.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
	// nodesReadyTimeout bounds how long kwok may take to make nodes Ready.
	nodesReadyTimeout = 60 * time.Second
)

// NodeSpec is one fake node: its name and allocatable resources, as
// Kubernetes quantities ("32", "128Gi", "110", "0"). Empty fields take the
// defaults 32 CPU, 128Gi memory, 110 pods, no GPU.
type NodeSpec struct {
	Name   string
	CPU    string
	Memory string
	Pods   string
	GPU    string
}

// resources parses the spec into a resource list for capacity and allocatable.
func (n NodeSpec) resources() (corev1.ResourceList, error) {
	rl := corev1.ResourceList{}
	for _, f := range []struct {
		name       corev1.ResourceName
		value, def string
	}{
		{corev1.ResourceCPU, n.CPU, "32"},
		{corev1.ResourceMemory, n.Memory, "128Gi"},
		{corev1.ResourcePods, n.Pods, "110"},
		{GPUResource, n.GPU, "0"},
	} {
		v := f.value
		if v == "" {
			v = f.def
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("node %s %s %q: %w", n.Name, f.name, v, err)
		}
		if f.name == GPUResource && q.IsZero() {
			continue
		}
		rl[f.name] = q
	}
	return rl, nil
}

// createNodes creates the fake Node objects with their allocatable set;
// kwok's node-initialize stage keeps it when it marks them Ready.
func (c *Cluster) createNodes(ctx context.Context, specs []NodeSpec) error {
	for i, spec := range specs {
		if spec.Name == "" {
			spec.Name = c.Name + "-node-" + strconv.Itoa(i)
		}
		rl, err := spec.resources()
		if err != nil {
			return err
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: spec.Name,
				Labels: map[string]string{
					"kubernetes.io/hostname": spec.Name,
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
					"type":                   "kwok",
				},
				Annotations: map[string]string{fakeNodeAnnotation: fakeNodeValue},
			},
			Status: corev1.NodeStatus{Allocatable: rl, Capacity: rl},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", spec.Name, err)
		}
		c.Nodes = append(c.Nodes, spec.Name)
	}
	return nil
}

// waitNodesReady waits until kwok has made every node Ready, and removes the
// not-ready taint the apiserver's admission put on them at creation: without
// a kube-controller-manager nobody else would, and nothing would schedule.
func (c *Cluster) waitNodesReady(ctx context.Context) error {
	kwok := c.proc("kwok")
	return kwok.waitReady(ctx, nodesReadyTimeout, func(ctx context.Context) error {
		for _, name := range c.Nodes {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("get node %s: %w", name, err)
			}
			if !nodeReady(node) {
				return fmt.Errorf("node %s not Ready yet", name)
			}
			if err := c.untaint(ctx, name); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Cluster) untaint(ctx context.Context, name string) error {
	notReady := func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeNotReady }
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(node.Spec.Taints, notReady) {
			return nil
		}
		node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, notReady)
		_, err = c.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("untaint node %s: %w", name, err)
		}
		return err
	})
}

func nodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// proc returns the component named name.
func (c *Cluster) proc(name string) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}
