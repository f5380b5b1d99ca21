package federation

import (
	"net/http"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

func (s *Server) registerCluster(w http.ResponseWriter, r *http.Request) {
	var spec v1.ClusterSpec
	if err := s.decodeBody(w, r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	spec.Default()
	if err := spec.Validate(s.cfg.Limits); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdRegisterCluster, Cluster: &spec})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, res.Cluster)
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) {
	items := s.node.State().Clusters()
	if items == nil {
		items = []v1.Cluster{}
	}
	writeJSON(w, http.StatusOK, v1.ClusterList{Items: items})
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := s.node.State().Cluster(name)
	if !ok {
		s.writeError(w, r, notFoundf("cluster %q", name))
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) updateCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var patch v1.ClusterPatch
	if err := s.decodeBody(w, r, &patch); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Validate the patched spec as a whole before it reaches the log.
	cur, ok := s.node.State().Cluster(name)
	if !ok {
		s.writeError(w, r, notFoundf("cluster %q", name))
		return
	}
	merged := applyPatch(cur.ClusterSpec, patch)
	if err := merged.Validate(s.cfg.Limits); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdUpdateCluster, Name: name, Patch: &patch})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res.Cluster)
}

// applyPatch returns spec with the patch's non-nil fields applied.
func applyPatch(spec v1.ClusterSpec, p v1.ClusterPatch) v1.ClusterSpec {
	if p.Labels != nil {
		spec.Labels = p.Labels
	}
	if p.Weight != nil {
		spec.Weight = *p.Weight
	}
	if p.Tiers != nil {
		spec.Tiers = p.Tiers
	}
	if p.AllowedProjects != nil {
		spec.AllowedProjects = p.AllowedProjects
	}
	if p.Prices != nil {
		spec.Prices = p.Prices
	}
	return spec
}

func (s *Server) removeCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdRemoveCluster, Name: name}); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clusterTransition serves cordon and uncordon.
func (s *Server) clusterTransition(t raftstore.CommandType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := s.apply(r.Context(), raftstore.Command{Type: t, Name: r.PathValue("name")})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res.Cluster)
	}
}

func (s *Server) drainCluster(w http.ResponseWriter, r *http.Request) {
	var req v1.DrainRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := req.ParseDrainDeadline()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.apply(r.Context(), raftstore.Command{Type: raftstore.CmdDrain, Name: r.PathValue("name"), Deadline: now().Add(d)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res.Cluster)
}
