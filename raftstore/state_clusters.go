package raftstore

import (
	"bytes"
	"encoding/json"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// updateCluster stores a changed copy of the named cluster. Callers hold mu.
func (s *State) updateCluster(c *v1.Cluster, change func(n *v1.Cluster)) *v1.Cluster {
	n := *c
	change(&n)
	s.clusters[n.Name] = &n
	s.dirty = true
	return &n
}

// clusterCmd looks up the cluster a command names.
func (s *State) clusterCmd(c *Command) (*v1.Cluster, Result, bool) {
	if c.Name == "" {
		return nil, invalidCmd(c, "no cluster name"), false
	}
	cl, ok := s.clusters[c.Name]
	if !ok {
		return nil, refuse(ErrNotFound, "%s %s: no such cluster", c.Type, c.Name), false
	}
	return cl, Result{}, true
}

func (s *State) applyRegisterCluster(c *Command) Result {
	spec := c.Cluster
	if spec == nil || spec.Name == "" {
		return invalidCmd(c, "no cluster spec or name")
	}
	if cl, ok := s.clusters[spec.Name]; ok {
		// Canonical JSON compares nil and empty alike, as the wire does.
		a, errA := json.Marshal(&cl.ClusterSpec)
		b, errB := json.Marshal(spec)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			r := refuse(ErrConflict, "register cluster %s: exists with another spec", spec.Name)
			r.Cluster = cl
			return r
		}
		return Result{Cluster: cl}
	}
	cl := &v1.Cluster{
		ClusterSpec: *spec,
		State:       v1.ClusterRegistered,
		Breaker:     v1.BreakerClosed,
		CreatedAt:   c.At,
		UpdatedAt:   c.At,
	}
	s.clusters[spec.Name] = cl
	// A fresh revision wakes agents that long-poll before registration.
	s.bump(spec.Name)
	return Result{Cluster: cl, Created: true}
}

func (s *State) applyUpdateCluster(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	p := c.Patch
	if p == nil {
		return invalidCmd(c, "no patch")
	}
	cl = s.updateCluster(cl, func(n *v1.Cluster) {
		if p.Labels != nil {
			n.Labels = p.Labels
		}
		if p.Weight != nil {
			n.Weight = *p.Weight
		}
		if p.Tiers != nil {
			n.Tiers = p.Tiers
		}
		if p.AllowedProjects != nil {
			n.AllowedProjects = p.AllowedProjects
		}
		if p.Prices != nil {
			n.Prices = p.Prices
		}
		n.UpdatedAt = c.At
	})
	return Result{Cluster: cl}
}

func (s *State) applyRemoveCluster(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	if n := s.live[c.Name].Len(); n > 0 {
		r := refuse(ErrBusy, "remove cluster %s: %d executions still on it", c.Name, n)
		r.Cluster = cl
		return r
	}
	delete(s.clusters, c.Name)
	// Wake its long-polling agent, then forget the revision.
	s.bump(c.Name)
	delete(s.revisions, c.Name)
	return Result{Cluster: cl}
}

func (s *State) applyCordon(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	switch cl.State {
	case v1.ClusterCordoned:
		// Idempotent.
	case v1.ClusterRegistered, v1.ClusterReady, v1.ClusterUnhealthy:
		cl = s.updateCluster(cl, func(n *v1.Cluster) { n.State = v1.ClusterCordoned; n.UpdatedAt = c.At })
	default:
		r := refuse(ErrInvalidTransition, "cordon cluster %s: it is %s", c.Name, cl.State)
		r.Cluster = cl
		return r
	}
	return Result{Cluster: cl}
}

func (s *State) applyUncordon(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	switch cl.State {
	case v1.ClusterReady, v1.ClusterUnhealthy:
		// Idempotent.
	case v1.ClusterCordoned, v1.ClusterDraining, v1.ClusterDrained:
		cl = s.updateCluster(cl, func(n *v1.Cluster) {
			switch {
			case n.Healthy:
				n.State = v1.ClusterReady
			case n.LastHeartbeat.IsZero():
				// Never heard from: its first heartbeat makes it Ready.
				n.State = v1.ClusterRegistered
			default:
				n.State = v1.ClusterUnhealthy
			}
			n.DrainDeadline = nil
			n.UpdatedAt = c.At
		})
	default:
		r := refuse(ErrInvalidTransition, "uncordon cluster %s: it is %s", c.Name, cl.State)
		r.Cluster = cl
		return r
	}
	return Result{Cluster: cl}
}

func (s *State) applyDrain(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	if c.Deadline.IsZero() {
		return invalidCmd(c, "no deadline")
	}
	switch cl.State {
	case v1.ClusterDrained:
		// Idempotent: nothing runs there.
	case v1.ClusterReady, v1.ClusterUnhealthy, v1.ClusterCordoned, v1.ClusterRegistered, v1.ClusterDraining:
		cl = s.updateCluster(cl, func(n *v1.Cluster) {
			n.State = v1.ClusterDraining
			if s.live[c.Name].Len() == 0 {
				n.State = v1.ClusterDrained
			}
			d := c.Deadline
			n.DrainDeadline = &d
			n.UpdatedAt = c.At
		})
	default:
		r := refuse(ErrInvalidTransition, "drain cluster %s: it is %s", c.Name, cl.State)
		r.Cluster = cl
		return r
	}
	return Result{Cluster: cl}
}

func (s *State) applyHeartbeat(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	hb := c.Heartbeat
	if hb == nil {
		return invalidCmd(c, "no heartbeat")
	}
	cl = s.updateCluster(cl, func(n *v1.Cluster) {
		capacity := hb.Capacity
		n.Capacity = &capacity
		n.AgentVersion = hb.AgentVersion
		n.LastHeartbeat = c.At
		// The first heartbeat makes a new cluster Ready. Later, health is
		// the health monitor's call (SetHealth): it decides how long a
		// returning cluster settles.
		if n.State == v1.ClusterRegistered {
			n.State = v1.ClusterReady
			n.Healthy = true
			n.HealthySince = c.At
			n.UpdatedAt = c.At
		}
	})
	return Result{Cluster: cl}
}

func (s *State) applySetHealth(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	if cl.Healthy == c.Healthy {
		return Result{Cluster: cl}
	}
	cl = s.updateCluster(cl, func(n *v1.Cluster) {
		n.Healthy = c.Healthy
		n.UpdatedAt = c.At
		if c.Healthy {
			n.HealthySince = c.At
			if n.State == v1.ClusterUnhealthy {
				n.State = v1.ClusterReady
			}
		} else if n.State == v1.ClusterReady {
			n.State = v1.ClusterUnhealthy
		}
	})
	return Result{Cluster: cl}
}

func (s *State) applySetBreaker(c *Command) Result {
	cl, r, ok := s.clusterCmd(c)
	if !ok {
		return r
	}
	switch c.Breaker {
	case v1.BreakerClosed, v1.BreakerHalfOpen, v1.BreakerOpen:
	default:
		return invalidCmd(c, "breaker state "+c.Breaker)
	}
	if cl.Breaker != c.Breaker {
		cl = s.updateCluster(cl, func(n *v1.Cluster) { n.Breaker = c.Breaker; n.UpdatedAt = c.At })
	}
	return Result{Cluster: cl}
}
