package federation

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/ui"
	"github.com/federation-dev/federation/raftstore"
)

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := v1.APIPrefix
	handle := func(pattern, route string, h http.HandlerFunc) {
		m.Handle(pattern, s.metrics.instrument(route, s.guard(route, h)))
	}
	handle("POST "+p+"/executions", "submit", s.onLeader(s.submitExecution))
	handle("GET "+p+"/executions", "list_executions", s.read(s.listExecutions))
	handle("GET "+p+"/executions/{project}/{domain}/{name}", "get_execution", s.read(s.getExecution))
	handle("POST "+p+"/executions/{project}/{domain}/{name}/cancel", "cancel", s.onLeader(s.cancelExecution))
	handle("GET "+p+"/executions/{project}/{domain}/{name}/explain", "explain", s.read(s.explainExecution))
	handle("POST "+p+"/placement/dry-run", "dry_run", s.read(s.dryRun))
	handle("GET "+p+"/usage", "usage", s.read(s.getUsage))

	handle("POST "+p+"/clusters", "register_cluster", s.onLeader(s.registerCluster))
	handle("GET "+p+"/clusters", "list_clusters", s.read(s.listClusters))
	handle("GET "+p+"/clusters/{name}", "get_cluster", s.read(s.getCluster))
	handle("PATCH "+p+"/clusters/{name}", "update_cluster", s.onLeader(s.updateCluster))
	handle("DELETE "+p+"/clusters/{name}", "remove_cluster", s.onLeader(s.removeCluster))
	handle("POST "+p+"/clusters/{name}/cordon", "cordon", s.onLeader(s.clusterTransition(raftstore.CmdCordon)))
	handle("POST "+p+"/clusters/{name}/uncordon", "uncordon", s.onLeader(s.clusterTransition(raftstore.CmdUncordon)))
	handle("POST "+p+"/clusters/{name}/drain", "drain", s.onLeader(s.drainCluster))

	handle("POST "+p+"/clusters/{name}/heartbeat", "heartbeat", s.onLeader(s.heartbeat))
	handle("GET "+p+"/clusters/{name}/assignments", "assignments", s.onLeader(s.assignments))
	handle("POST "+p+"/clusters/{name}/reports", "reports", s.onLeader(s.reports))

	handle("GET "+p+"/raft", "raft_status", s.raftStatus)
	handle("POST "+p+"/raft/join", "raft_join", s.onLeader(s.raftJoin))
	handle("DELETE "+p+"/raft/members/{id}", "raft_remove", s.onLeader(s.raftRemove))

	handle("POST "+p+"/cache/lookup", "cache_lookup", s.onLeader(s.cache.lookup))
	handle("POST "+p+"/cache", "cache_put", s.onLeader(s.cache.put))
	handle("POST "+p+"/cache/{key}/release", "cache_release", s.onLeader(s.cache.release))
	handle("GET "+p+"/cache", "cache_list", s.read(s.cache.list))
	handle("GET "+p+"/cache/{key}", "cache_get", s.read(s.cache.get))
	handle("DELETE "+p+"/cache/{key}", "cache_evict", s.onLeader(s.cache.evict))

	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	m.Handle("GET "+ui.Prefix, ui.Handler())
	m.Handle("GET /ui", http.RedirectHandler(ui.Prefix, http.StatusMovedPermanently))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody(v1.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	return m
}

// onLeader runs h on the leader and forwards to it from a follower.
func (s *Server) onLeader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.node.IsLeader() {
			h(w, r)
			return
		}
		s.proxy.forward(w, r, func(err error) { s.writeError(w, r, err) })
	}
}

// read serves a linearizable read by default: on the leader after a
// read barrier, forwarded from a follower. ?stale=true serves the local
// replica's state as it is.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("stale") == "true" {
			h(w, r)
			return
		}
		if !s.node.IsLeader() {
			s.proxy.forward(w, r, func(err error) { s.writeError(w, r, err) })
			return
		}
		if err := s.node.VerifyRead(r.Context()); err != nil {
			if errors.Is(err, raftstore.ErrNotLeader) {
				s.proxy.forward(w, r, func(err error) { s.writeError(w, r, err) })
				return
			}
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	id, _ := s.node.Leader()
	if id == "" {
		s.writeError(w, r, errNoLeader)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "leader": id})
}
