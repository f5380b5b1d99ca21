package federation

import (
	"net/http"
	"net/http/pprof"
)

// EnablePprof serves Go's runtime profiles under /debug/pprof/ on the API's
// HTTP mux. It is off unless the binary's --pprof flag asks for it: a
// profile exposes internals and costs CPU while it runs, so production
// replicas leave it off. With authentication on, only admins may read them.
// Call it before Run.
func (s *Server) EnablePprof() {
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /debug/pprof/":        pprof.Index,
		"GET /debug/pprof/cmdline": pprof.Cmdline,
		"GET /debug/pprof/profile": pprof.Profile,
		"GET /debug/pprof/symbol":  pprof.Symbol,
		"POST /debug/pprof/symbol": pprof.Symbol,
		"GET /debug/pprof/trace":   pprof.Trace,
	} {
		s.mux.HandleFunc(pattern, s.guard("pprof", h))
	}
}
