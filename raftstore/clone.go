package raftstore

import (
	"maps"
	"slices"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Deep copies of the wire types. Stored values are shared with snapshots and
// never mutated; what leaves the package is a deep copy so a caller cannot
// reach into the state.

func cloneExecution(e *v1.Execution) *v1.Execution {
	if e == nil {
		return nil
	}
	c := *e
	c.ExecutionSpec = cloneSpec(e.ExecutionSpec)
	c.History = slices.Clone(e.History)
	c.Nodes = cloneNodes(e.Nodes)
	c.Outputs = maps.Clone(e.Outputs)
	return &c
}

func cloneSpec(s v1.ExecutionSpec) v1.ExecutionSpec {
	c := s
	c.ClusterSelector = cloneSelector(s.ClusterSelector)
	c.PreferredLabels = maps.Clone(s.PreferredLabels)
	c.Inputs = maps.Clone(s.Inputs)
	c.Workflow.Nodes = cloneDAG(s.Workflow.Nodes)
	return c
}

func cloneDAG(nodes []v1.TaskNode) []v1.TaskNode {
	if nodes == nil {
		return nil
	}
	c := make([]v1.TaskNode, len(nodes))
	for i, n := range nodes {
		c[i] = cloneTaskNode(n)
	}
	return c
}

func cloneTaskNode(n v1.TaskNode) v1.TaskNode {
	c := n
	c.DependsOn = slices.Clone(n.DependsOn)
	c.Command = slices.Clone(n.Command)
	c.Args = slices.Clone(n.Args)
	c.Env = maps.Clone(n.Env)
	if n.Inputs != nil {
		c.Inputs = make(map[string]v1.Binding, len(n.Inputs))
		for k, b := range n.Inputs {
			if b.Value != nil {
				v := *b.Value
				b.Value = &v
			}
			c.Inputs[k] = b
		}
	}
	if n.Cache != nil {
		cc := *n.Cache
		c.Cache = &cc
	}
	return c
}

func cloneSelector(s *v1.LabelSelector) *v1.LabelSelector {
	if s == nil {
		return nil
	}
	c := &v1.LabelSelector{MatchLabels: maps.Clone(s.MatchLabels)}
	if s.MatchExpressions != nil {
		c.MatchExpressions = make([]v1.LabelSelectorRequirement, len(s.MatchExpressions))
		for i, r := range s.MatchExpressions {
			r.Values = slices.Clone(r.Values)
			c.MatchExpressions[i] = r
		}
	}
	return c
}

func cloneNodes(m map[string]v1.NodeStatus) map[string]v1.NodeStatus {
	if m == nil {
		return nil
	}
	c := make(map[string]v1.NodeStatus, len(m))
	for k, n := range m {
		n.Outputs = maps.Clone(n.Outputs)
		c[k] = n
	}
	return c
}

func cloneCluster(c *v1.Cluster) *v1.Cluster {
	if c == nil {
		return nil
	}
	o := *c
	o.ClusterSpec = cloneClusterSpec(c.ClusterSpec)
	if c.Capacity != nil {
		cp := *c.Capacity
		o.Capacity = &cp
	}
	if c.DrainDeadline != nil {
		d := *c.DrainDeadline
		o.DrainDeadline = &d
	}
	return &o
}

func cloneClusterSpec(s v1.ClusterSpec) v1.ClusterSpec {
	c := s
	c.Labels = maps.Clone(s.Labels)
	c.Tiers = slices.Clone(s.Tiers)
	c.AllowedProjects = slices.Clone(s.AllowedProjects)
	if s.Prices != nil {
		p := *s.Prices
		c.Prices = &p
	}
	return c
}

// cloneResult deep-copies what a result points to, so the caller owns it.
func cloneResult(r Result) Result {
	r.Execution = cloneExecution(r.Execution)
	r.Cluster = cloneCluster(r.Cluster)
	return r
}
