package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// Tokens of the authorization tests, one per principal.
const (
	tokAdmin   = "admin-0123456789abcdef"
	tokSubA    = "sub-a-0123456789abcdef"
	tokSubAll  = "sub-all-0123456789abcdef"
	tokAgentC1 = "agent-c1-0123456789abcdef"
	tokAgentC2 = "agent-c2-0123456789abcdef"
)

// testTokens is the token file of the authorization tests.
const testTokens = tokAdmin + ",sre,admin,\n" +
	tokSubA + ",ci-a,submitter,a\n" +
	tokSubAll + ",ci-all,submitter,*\n" +
	tokAgentC1 + ",agent-c1,agent,c1\n" +
	tokAgentC2 + ",agent-c2,agent,c2\n"

func testTokenStore(t *testing.T) *TokenStore {
	t.Helper()
	set, err := ParseTokens(strings.NewReader(testTokens))
	if err != nil {
		t.Fatal(err)
	}
	return NewStaticTokens(set)
}

// withAuth turns authentication on with the test tokens.
func withAuth(t *testing.T, more func(*Config)) func(*Config) {
	store := testTokenStore(t)
	return func(c *Config) {
		c.Auth = store
		if more != nil {
			more(c)
		}
	}
}

// startAuthControlPlane starts n replicas that require tokens; replica
// clients carry the admin token.
func startAuthControlPlane(t *testing.T, n int, mutate func(*Config)) []*replica {
	t.Helper()
	base := t.TempDir()
	var rs []*replica
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("r%d", i)
		r := startReplica(t, id, filepath.Join(base, id), i == 1, mutate)
		c, err := client.New(r.url, client.WithToken(tokAdmin))
		if err != nil {
			t.Fatal(err)
		}
		r.client = c
		if i == 1 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := r.node.WaitForLeader(ctx)
			cancel()
			if err != nil {
				t.Fatalf("first replica never led: %v", err)
			}
		} else {
			join(t, rs[0].client, r)
		}
		rs = append(rs, r)
	}
	waitUntil(t, 20*time.Second, "every replica to know every member", func() bool {
		for _, r := range rs {
			if id, _ := r.node.Leader(); id == "" || len(r.node.State().Members()) != n {
				return false
			}
		}
		return true
	})
	return rs
}

// call sends one request with token (none when empty) and returns the
// status and error body.
func call(t *testing.T, base, token, method, path string, body any) (int, v1.ErrorBody, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var eb v1.ErrorBody
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(data, &eb); err != nil || eb.Error.Code == "" {
			t.Fatalf("%s %s: error answer %d is not a JSON error: %q", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, eb, resp.Header
}

// authzRow is one endpoint of the role table and who may use it.
type authzRow struct {
	route   string
	method  string
	path    string
	body    any
	allowed []string // principals let through; all others get 403
}

func authzTable() []authzRow {
	p := v1.APIPrefix
	admins := []string{"admin"}
	subsA := []string{"admin", "sub-a", "sub-all"}
	subsB := []string{"admin", "sub-all"}
	return []authzRow{
		{"submit", "POST", p + "/executions", spec("a", "new-a"), subsA},
		{"submit", "POST", p + "/executions", spec("b", "new-b"), subsB},
		{"list_executions", "GET", p + "/executions?project=a", nil, subsA},
		{"list_executions", "GET", p + "/executions?project=b", nil, subsB},
		{"list_executions", "GET", p + "/executions", nil, subsB},
		{"get_execution", "GET", p + "/executions/a/production/x", nil, subsA},
		{"get_execution", "GET", p + "/executions/b/production/y", nil, subsB},
		{"explain", "GET", p + "/executions/a/production/x/explain", nil, subsA},
		{"explain", "GET", p + "/executions/b/production/y/explain", nil, subsB},
		{"dry_run", "POST", p + "/placement/dry-run", spec("a", "dry"), subsA},
		{"dry_run", "POST", p + "/placement/dry-run", spec("b", "dry"), subsB},
		{"cancel", "POST", p + "/executions/a/production/x/cancel", nil, subsA},
		{"cancel", "POST", p + "/executions/b/production/y/cancel", nil, subsB},

		{"register_cluster", "POST", p + "/clusters", v1.ClusterSpec{Name: "c3"}, admins},
		{"list_clusters", "GET", p + "/clusters", nil, admins},
		{"get_cluster", "GET", p + "/clusters/c1", nil, []string{"admin", "agent-c1"}},
		{"update_cluster", "PATCH", p + "/clusters/c3", v1.ClusterPatch{}, admins},
		{"cordon", "POST", p + "/clusters/c3/cordon", nil, admins},
		{"uncordon", "POST", p + "/clusters/c3/uncordon", nil, admins},
		{"drain", "POST", p + "/clusters/c3/drain", v1.DrainRequest{Deadline: "1m"}, admins},
		{"remove_cluster", "DELETE", p + "/clusters/none", nil, admins},

		{"heartbeat", "POST", p + "/clusters/c1/heartbeat", v1.Heartbeat{}, []string{"agent-c1"}},
		{"heartbeat", "POST", p + "/clusters/c2/heartbeat", v1.Heartbeat{}, []string{"agent-c2"}},
		{"assignments", "GET", p + "/clusters/c1/assignments", nil, []string{"agent-c1"}},
		{"assignments", "GET", p + "/clusters/c2/assignments", nil, []string{"agent-c2"}},
		{"reports", "POST", p + "/clusters/c1/reports", v1.ReportBatch{}, []string{"agent-c1"}},
		{"reports", "POST", p + "/clusters/c2/reports", v1.ReportBatch{}, []string{"agent-c2"}},

		{"usage", "GET", p + "/usage?project=a", nil, subsA},
		{"usage", "GET", p + "/usage?project=b", nil, subsB},
		{"usage", "GET", p + "/usage", nil, subsB},

		{"cache_lookup", "POST", p + "/cache/lookup", "{}", []string{"admin", "agent-c1", "agent-c2"}},
		{"cache_put", "POST", p + "/cache", "{}", []string{"admin", "agent-c1", "agent-c2"}},
		{"cache_release", "POST", p + "/cache/k1/release", "{}", []string{"admin", "agent-c1", "agent-c2"}},
		{"cache_list", "GET", p + "/cache", nil, admins},
		{"cache_get", "GET", p + "/cache/k1", nil, admins},
		{"cache_evict", "DELETE", p + "/cache/k1", nil, admins},

		{"raft_status", "GET", p + "/raft", nil, admins},
		{"raft_join", "POST", p + "/raft/join", v1.JoinRequest{}, admins},
		{"raft_remove", "DELETE", p + "/raft/members/none", nil, admins},
	}
}

var principals = map[string]string{
	"admin": tokAdmin, "sub-a": tokSubA, "sub-all": tokSubAll, "agent-c1": tokAgentC1, "agent-c2": tokAgentC2,
}

// TestRoleTable checks every route against every role: allowed requests
// get past authorization (whatever the handler then answers), the others
// get 403; no token and unknown tokens get 401 everywhere.
func TestRoleTable(t *testing.T) {
	rs := startAuthControlPlane(t, 1, withAuth(t, nil))
	r := rs[0]
	ctx := ctxT(t)
	for _, name := range []string{"c1", "c2"} {
		if _, _, err := r.client.RegisterCluster(ctx, v1.ClusterSpec{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []v1.ExecutionSpec{spec("a", "x"), spec("b", "y")} {
		if _, _, err := r.client.SubmitExecution(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range principals {
			if !yield(n) {
				return
			}
		}
	})
	for _, row := range authzTable() {
		for _, who := range names {
			want := "403"
			if slices.Contains(row.allowed, who) {
				want = "allowed"
			}
			t.Run(fmt.Sprintf("%s %s as %s", row.method, row.path, who), func(t *testing.T) {
				status, eb, _ := call(t, r.url, principals[who], row.method, row.path, row.body)
				switch {
				case want == "403" && (status != http.StatusForbidden || eb.Error.Code != v1.CodeForbidden):
					t.Fatalf("got %d %+v, want 403 Forbidden", status, eb.Error)
				case want == "allowed" && (status == http.StatusForbidden || status == http.StatusUnauthorized):
					t.Fatalf("got %d %+v, want it let through", status, eb.Error)
				}
			})
		}
		t.Run(fmt.Sprintf("%s %s without or with a wrong token", row.method, row.path), func(t *testing.T) {
			for _, tok := range []string{"", "wrong-0123456789abcdef", tokAdmin + "x", strings.ToUpper(tokAdmin)} {
				status, eb, h := call(t, r.url, tok, row.method, row.path, row.body)
				if status != http.StatusUnauthorized || eb.Error.Code != v1.CodeUnauthorized || h.Get("WWW-Authenticate") == "" {
					t.Fatalf("token %q: got %d %+v, want 401 with WWW-Authenticate", tok, status, eb.Error)
				}
			}
		})
	}
	// Malformed Authorization headers are 401 too.
	for _, h := range []string{"Basic " + tokAdmin, tokAdmin, "Bearer", "Bearer  "} {
		req, _ := http.NewRequestWithContext(ctx, "GET", r.url+v1.APIPrefix+"/raft", nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: %d, want 401", h, resp.StatusCode)
		}
	}
	// Probes and metrics stay open: kubelets and Prometheus hold no token.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _, _ := call(t, r.url, "", "GET", path, nil); status != http.StatusOK {
			t.Fatalf("GET %s without a token: %d, want 200", path, status)
		}
	}
}

// TestEveryRouteHasAPolicyAndARow keeps the table complete: a route added
// to routes.go without a policy (it would be admin-only) or without a row
// here fails.
func TestEveryRouteHasAPolicyAndARow(t *testing.T) {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`handle\("[A-Z]+ "\+p\+"[^"]*", "([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 20 {
		t.Fatalf("found only %d routes in routes.go: the pattern is out of date", len(routes))
	}
	rows := map[string]bool{}
	for _, row := range authzTable() {
		rows[row.route] = true
	}
	for _, m := range routes {
		if _, ok := routePolicies[m[1]]; !ok {
			t.Errorf("route %q has no entry in routePolicies (authz.go)", m[1])
		}
		if !rows[m[1]] {
			t.Errorf("route %q has no row in authzTable", m[1])
		}
	}
}

// TestAgentMayNotReportOnExecutionsPlacedElsewhere: an agent's report on an
// execution placed on another cluster is refused as a whole (403), changes
// nothing, and the rightful agent's report still goes through.
func TestAgentMayNotReportOnExecutionsPlacedElsewhere(t *testing.T) {
	rs := startAuthControlPlane(t, 3, withAuth(t, nil))
	f := followerOf(t, rs)
	l := leaderOf(t, rs)
	ctx := ctxT(t)
	big := v1.Amounts{MilliCPU: 64000, MemoryBytes: 256 << 30, Pods: 100}
	cap := v1.Heartbeat{Capacity: v1.Capacity{Allocatable: big, Free: big}}
	for _, name := range []string{"c1", "c2"} {
		if _, _, err := f.client.RegisterCluster(ctx, v1.ClusterSpec{Name: name, Labels: map[string]string{"name": name}}); err != nil {
			t.Fatal(err)
		}
	}
	s := spec("a", "on-c2")
	s.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"name": "c2"}}
	if _, _, err := f.client.SubmitExecution(ctx, s); err != nil {
		t.Fatal(err)
	}
	var ex v1.Execution
	waitUntil(t, 10*time.Second, "the execution to be placed on c2", func() bool {
		for _, c := range []struct{ name, tok string }{{"c1", tokAgentC1}, {"c2", tokAgentC2}} {
			if st, eb, _ := call(t, l.url, c.tok, "POST", v1.APIPrefix+"/clusters/"+c.name+"/heartbeat", cap); st != http.StatusOK {
				t.Fatalf("heartbeat %s: %d %+v", c.name, st, eb)
			}
		}
		var ok bool
		ex, ok = l.node.State().Execution(s.Key())
		return ok && ex.Phase == v1.PhaseAssigned && ex.Cluster == "c2"
	})
	report := v1.ReportBatch{Reports: []v1.StatusReport{{ExecutionKey: s.Key(), Attempt: ex.Attempt, Phase: v1.PhaseRunning, Message: "forged"}}}
	for _, via := range []*replica{l, f} {
		st, eb, _ := call(t, via.url, tokAgentC1, "POST", v1.APIPrefix+"/clusters/c1/reports", report)
		if st != http.StatusForbidden || !strings.Contains(eb.Error.Message, s.Key().String()) {
			t.Fatalf("agent c1 reporting on c2's execution via %s: %d %+v, want 403 naming it", via.id, st, eb.Error)
		}
		// Speaking for c2 with c1's token is refused before any body is read.
		if st, _, _ := call(t, via.url, tokAgentC1, "POST", v1.APIPrefix+"/clusters/c2/reports", report); st != http.StatusForbidden {
			t.Fatalf("agent c1 reporting as c2 via %s: %d, want 403", via.id, st)
		}
	}
	if got, _ := l.node.State().Execution(s.Key()); got.Phase != v1.PhaseAssigned || got.Message == "forged" {
		t.Fatalf("a refused report changed the execution: %s %q", got.Phase, got.Message)
	}
	// The rightful agent, through a follower: forwarded with its token.
	st, eb, _ := call(t, f.url, tokAgentC2, "POST", v1.APIPrefix+"/clusters/c2/reports", report)
	if st != http.StatusOK {
		t.Fatalf("agent c2 reporting on its own execution: %d %+v", st, eb.Error)
	}
	if got, _ := l.node.State().Execution(s.Key()); got.Phase != v1.PhaseRunning {
		t.Fatalf("the rightful report did not apply: %s", got.Phase)
	}
}

// TestSubmitterScopeThroughAFollower: the follower authenticates and the
// leader, reached by forwarding with the same Authorization header, agrees.
func TestSubmitterScopeThroughAFollower(t *testing.T) {
	rs := startAuthControlPlane(t, 3, withAuth(t, nil))
	f := followerOf(t, rs)
	sub, err := client.New(f.url, client.WithToken(tokSubA))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, created, err := sub.SubmitExecution(ctx, spec("a", "via-follower")); err != nil || !created {
		t.Fatalf("submitter of a, project a, via a follower: created=%v err=%v", created, err)
	}
	if _, _, err := sub.SubmitExecution(ctx, spec("b", "via-follower")); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("submitter of a, project b: err=%v, want 403", err)
	}
	if _, err := sub.CancelExecution(ctx, v1.ExecutionKey{Project: "a", Domain: "production", Name: "via-follower"}); err != nil {
		t.Fatalf("cancel own execution via a follower: %v", err)
	}
}
