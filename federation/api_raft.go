package federation

import (
	"net/http"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

func (s *Server) raftStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.node.Status())
}

func (s *Server) raftJoin(w http.ResponseWriter, r *http.Request) {
	var req v1.JoinRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.ID == "" || req.Address == "" {
		s.writeError(w, r, badRequest("join needs id and address (the joining node's raft address)"))
		return
	}
	if err := s.node.Join(req.ID, req.Address); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.HTTPAddress != "" {
		meta := &raftstore.MemberMeta{ID: req.ID, HTTPAddress: req.HTTPAddress}
		if _, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdSetMember, Member: meta}); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.node.Status())
}

func (s *Server) raftRemove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.node.Remove(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdRemoveMember, Member: &raftstore.MemberMeta{ID: id}}); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
