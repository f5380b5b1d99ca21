package raftstore

import (
	"fmt"
	"sort"

	"github.com/hashicorp/raft"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Join adds a voter; it needs the leader. It is idempotent when the server
// is already a voter at that address, and replaces a member with the same ID
// at another address (or another ID at the same address).
func (n *Node) Join(id, addr string) error {
	if !n.IsLeader() {
		return fmt.Errorf("join %s: %w", id, ErrNotLeader)
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raftError("join "+id, err)
	}
	for _, s := range f.Configuration().Servers {
		sameID, sameAddr := string(s.ID) == id, string(s.Address) == addr
		if !sameID && !sameAddr {
			continue
		}
		if sameID && sameAddr && s.Suffrage == raft.Voter {
			return nil
		}
		if string(s.ID) == n.cfg.ID {
			return fmt.Errorf("join %s at %s: %w: that is the leader itself (%s at %s)", id, addr, ErrConflict, s.ID, s.Address)
		}
		if err := n.raft.RemoveServer(s.ID, 0, 0).Error(); err != nil {
			return raftError(fmt.Sprintf("join %s: remove old member %s", id, s.ID), err)
		}
		n.log.Info("removed stale raft member before join", "member", s.ID, "addr", s.Address)
	}
	if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 0).Error(); err != nil {
		return raftError("join "+id, err)
	}
	n.log.Info("raft member joined", "member", id, "addr", addr)
	return nil
}

// Remove removes a server from the cluster; it needs the leader.
func (n *Node) Remove(id string) error {
	if !n.IsLeader() {
		return fmt.Errorf("remove %s: %w", id, ErrNotLeader)
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, 0).Error(); err != nil {
		return raftError("remove "+id, err)
	}
	n.log.Info("raft member removed", "member", id)
	return nil
}

// Status describes the node and its view of the cluster. Members carry the
// HTTP addresses recorded in the state.
func (n *Node) Status() v1.RaftStatus {
	st := v1.RaftStatus{
		ID:           n.cfg.ID,
		State:        n.raft.State().String(),
		Members:      []v1.RaftServer{},
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(),
		LastIndex:    n.raft.LastIndex(),
	}
	if id, addr := n.Leader(); id != "" {
		st.Leader = &v1.RaftLeader{ID: id, Address: addr}
	}
	f := n.raft.GetConfiguration()
	if f.Error() == nil {
		http := n.state.Members()
		for _, s := range f.Configuration().Servers {
			st.Members = append(st.Members, v1.RaftServer{
				ID: string(s.ID), Address: string(s.Address), HTTPAddress: http[string(s.ID)], Suffrage: s.Suffrage.String(),
			})
		}
		sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].ID < st.Members[j].ID })
	}
	return st
}
