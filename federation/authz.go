package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// scopeCheck decides whether a principal whose role may use a route may
// use it for this request's object (project, cluster). It returns an error
// wrapping errForbidden, errBadRequest or errTooLarge.
type scopeCheck func(s *Server, p *Principal, r *http.Request) error

// routePolicy is, for one route, the roles allowed and each role's scope
// check (nil: the role alone suffices). A role missing is refused with 403.
type routePolicy map[Role]scopeCheck

// adminOnly is the policy of SRE operations, and of any route without one
// of its own: unknown routes fail closed.
var adminOnly = routePolicy{RoleAdmin: nil}

// routePolicies is the authorization table, by the route names of routes.go.
// Admins may do everything but speak for a cluster: an agent's endpoints
// take the agent's own token, so that every report is tied to a cluster's
// identity.
var routePolicies = map[string]routePolicy{
	"submit":          {RoleAdmin: nil, RoleSubmitter: specInScope},
	"list_executions": {RoleAdmin: nil, RoleSubmitter: listInScope},
	"get_execution":   {RoleAdmin: nil, RoleSubmitter: pathProjectInScope},
	"cancel":          {RoleAdmin: nil, RoleSubmitter: pathProjectInScope},
	"explain":         {RoleAdmin: nil, RoleSubmitter: pathProjectInScope},
	"dry_run":         {RoleAdmin: nil, RoleSubmitter: specInScope},

	"register_cluster": adminOnly,
	"list_clusters":    adminOnly,
	"get_cluster":      {RoleAdmin: nil, RoleAgent: ownCluster},
	"update_cluster":   adminOnly,
	"remove_cluster":   adminOnly,
	"cordon":           adminOnly,
	"uncordon":         adminOnly,
	"drain":            adminOnly,

	"heartbeat":   {RoleAgent: ownCluster},
	"assignments": {RoleAgent: ownCluster},
	"reports":     {RoleAgent: ownReports},

	// Usage is per project: a submitter reads its own projects'.
	"usage": {RoleAdmin: nil, RoleSubmitter: listInScope},

	// The task cache: agents look up, claim, fill and release entries for
	// the executions they run, whatever their project; reading and evicting
	// the cache as a whole is an SRE's job.
	"cache_lookup":  {RoleAdmin: nil, RoleAgent: nil},
	"cache_put":     {RoleAdmin: nil, RoleAgent: nil},
	"cache_release": {RoleAdmin: nil, RoleAgent: nil},
	"cache_list":    adminOnly,
	"cache_get":     adminOnly,
	"cache_evict":   adminOnly,

	"raft_status": adminOnly,
	"raft_join":   adminOnly,
	"raft_remove": adminOnly,

	// Profiles expose internals: SREs only.
	"pprof": adminOnly,
}

// rateLimitedRoutes take one unit of the caller's submission budget.
var rateLimitedRoutes = map[string]bool{"submit": true}

type principalKey struct{}

// PrincipalFrom returns the authenticated caller of a request, or false
// when authentication is off.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

// guard wraps a route with authentication, its authorization policy and,
// for submissions, the caller's rate limit. With authentication off (--dev,
// --insecure-no-auth) it is the route itself. It runs on the replica that
// receives the request, and again on the leader for forwarded ones: the
// Authorization header travels with them.
func (s *Server) guard(route string, h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Auth == nil {
		return h
	}
	pol, ok := routePolicies[route]
	if !ok {
		s.log.Warn("route has no authorization policy; only admins may use it", "route", route)
		pol = adminOnly
	}
	var limiter *submitLimiter
	if rateLimitedRoutes[route] {
		limiter = newSubmitLimiter(s.cfg.SubmitRate, s.cfg.SubmitBurst)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.log.Info("unauthenticated request refused", "route", route, "remote", r.RemoteAddr, "reason", err.Error())
			w.Header().Set("WWW-Authenticate", `Bearer realm="federation"`)
			writeJSON(w, http.StatusUnauthorized, errorBody(v1.CodeUnauthorized, err.Error()))
			return
		}
		check, allowed := pol[p.Role]
		if !allowed {
			s.refuse(w, r, route, p, fmt.Errorf("%w: role %s may not use %s", errForbidden, p.Role, route))
			return
		}
		if ok, wait := limiter.allow(p.Name, time.Now()); !ok {
			s.log.Info("submission rate limited", "route", route, "principal", p.Name, "retry_after", wait)
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			writeJSON(w, http.StatusTooManyRequests, errorBody(v1.CodeRateLimited,
				fmt.Sprintf("%s: over %g submissions per second (burst %d); retry after %s", p.Name, s.cfg.SubmitRate, max(s.cfg.SubmitBurst, 1), wait.Round(time.Millisecond))))
			return
		}
		if check != nil {
			if err := check(s, p, r); err != nil {
				s.refuse(w, r, route, p, err)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// refuse answers an authorization failure and logs who was refused (by
// name: a token is never logged).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, route string, p *Principal, err error) {
	if errors.Is(err, errForbidden) {
		s.log.Warn("request forbidden", "route", route, "principal", p.Name, "role", p.Role, "remote", r.RemoteAddr, "reason", err.Error())
	}
	s.writeError(w, r, err)
}

// authenticate finds the principal of the request's bearer token.
func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, errors.New("missing bearer token: send Authorization: Bearer <token> (fedctl --token, $FEDCTL_TOKEN)")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, errors.New("malformed Authorization header: want Bearer <token>")
	}
	p, ok := s.cfg.Auth.Authenticate(strings.TrimSpace(token))
	if !ok {
		return nil, errors.New("unknown or revoked token")
	}
	return p, nil
}

func forbiddenf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errForbidden, fmt.Sprintf(format, args...))
}

// pathProjectInScope: the execution in the path is of one of the
// submitter's projects.
func pathProjectInScope(_ *Server, p *Principal, r *http.Request) error {
	if proj := r.PathValue("project"); !p.HasProject(proj) {
		return forbiddenf("%s may not use executions of project %q (its projects: %s)", p.Name, proj, strings.Join(p.Projects, ", "))
	}
	return nil
}

// listInScope: a submitter of some projects lists one of them at a time;
// one of every project ("*") may list all.
func listInScope(_ *Server, p *Principal, r *http.Request) error {
	if slices.Contains(p.Projects, "*") {
		return nil
	}
	proj := r.URL.Query().Get("project")
	if proj == "" {
		return forbiddenf("%s may list only its own projects: add ?project= one of %s", p.Name, strings.Join(p.Projects, ", "))
	}
	if !p.HasProject(proj) {
		return forbiddenf("%s may not list project %q (its projects: %s)", p.Name, proj, strings.Join(p.Projects, ", "))
	}
	return nil
}

// specInScope: the submitted spec is of one of the submitter's projects.
func specInScope(s *Server, p *Principal, r *http.Request) error {
	var spec v1.ExecutionSpec
	if err := s.peekBody(r, &spec); err != nil {
		return err
	}
	if !p.HasProject(spec.Project) {
		return forbiddenf("%s may not submit to project %q (its projects: %s)", p.Name, spec.Project, strings.Join(p.Projects, ", "))
	}
	return nil
}

// ownCluster: an agent speaks only for the cluster its token names.
func ownCluster(_ *Server, p *Principal, r *http.Request) error {
	if name := r.PathValue("name"); name != p.Cluster {
		return forbiddenf("agent %s of cluster %q may not act for cluster %q", p.Name, p.Cluster, name)
	}
	return nil
}

// ownReports: an agent reports for its own cluster, and only on executions
// that are or were placed there. A report on an execution this cluster
// never held is a forgery or a bug, refused as a whole with 403 before any
// of it reaches the log. A report on an execution the cluster held in an
// earlier attempt passes: the FSM answers it "stale", which tells the agent
// to abort its leftover copy (the fencing of guarantee 3). A report on an
// unknown execution passes too: the FSM answers "unknown" and changes
// nothing.
//
// Followers check the cluster name only; the leader, which the request is
// forwarded to, checks the executions against the committed state.
func ownReports(s *Server, p *Principal, r *http.Request) error {
	if err := ownCluster(s, p, r); err != nil {
		return err
	}
	if !s.node.IsLeader() {
		return nil
	}
	var batch v1.ReportBatch
	if err := s.peekBody(r, &batch); err != nil {
		return err
	}
	foreign := func() []string {
		var out []string
		for _, rep := range batch.Reports {
			if e, ok := s.node.State().Execution(rep.ExecutionKey); ok && !heldBy(&e, p.Cluster) {
				out = append(out, rep.ExecutionKey.String())
			}
		}
		return out
	}
	bad := foreign()
	if len(bad) == 0 {
		return nil
	}
	// A leader new in its term may not have applied the assignment the
	// agent learned from its predecessor: catch up before refusing.
	if err := s.node.VerifyRead(r.Context()); err != nil {
		return err
	}
	if bad = foreign(); len(bad) == 0 {
		return nil
	}
	return forbiddenf("agent %s of cluster %q may not report on executions never placed on it: %s", p.Name, p.Cluster, strings.Join(bad, ", "))
}

// heldBy reports whether the execution is or was placed on cluster.
func heldBy(e *v1.Execution, cluster string) bool {
	if e.Cluster == cluster {
		return true
	}
	for _, t := range e.History {
		if t.Cluster == cluster {
			return true
		}
	}
	return false
}

// peekBody decodes the request body into dst as the handler will (same
// limit, same strictness) and puts it back for the handler to read again.
func (s *Server) peekBody(r *http.Request, dst any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return badRequest("read body: %v", err)
	}
	if int64(len(b)) > s.cfg.MaxBodyBytes {
		return fmt.Errorf("%w: over %d bytes", errTooLarge, s.cfg.MaxBodyBytes)
	}
	peek := r.Clone(r.Context())
	peek.Body = io.NopCloser(bytes.NewReader(b))
	return s.decodeBody(discardWriter{}, peek, dst)
}

// discardWriter is the ResponseWriter decodeBody's MaxBytesReader gets
// while peeking: the body was already bounded, so it is never written.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
