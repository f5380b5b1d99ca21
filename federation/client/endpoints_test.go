package client

import (
	"context"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestEndpoints checks that every method sends the contract's method, path,
// query and body, and decodes the answer.
func TestEndpoints(t *testing.T) {
	key := v1.ExecutionKey{Project: "flytesnacks", Domain: "development", Name: "run-1"}
	spec := v1.ExecutionSpec{Project: key.Project, Domain: key.Domain, Name: key.Name, Tier: v1.TierCritical,
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{{ID: "a", Image: "busybox"}}}}
	exec := v1.Execution{ExecutionSpec: spec, Phase: v1.PhaseQueued, Attempt: 1, SpecHash: "h"}
	cluster := v1.Cluster{ClusterSpec: v1.ClusterSpec{Name: "east", Weight: 2}, State: v1.ClusterReady, Healthy: true}
	expl := v1.Explanation{Key: key, Chosen: "east", Summary: "placed on east", Clusters: []v1.ClusterVerdict{
		{Cluster: "east", Feasible: true, Scores: map[string]float64{"weight": 1}, Total: 1},
		{Cluster: "west", Filter: "Cordoned", Reason: "cluster is cordoned"},
	}}
	weight := 5
	patch := v1.ClusterPatch{Weight: &weight, Labels: map[string]string{"zone": "b"}}

	cases := []struct {
		name       string
		ans        answer
		call       func(context.Context, *Client) (any, error)
		wantMethod string
		wantPath   string
		wantQuery  string
		wantBody   any
		want       any
	}{
		{
			name: "submit created", ans: answer{status: 201, body: exec},
			call: func(ctx context.Context, c *Client) (any, error) {
				ex, created, err := c.SubmitExecution(ctx, spec)
				return []any{ex, created}, err
			},
			wantMethod: "POST", wantPath: "/api/v1alpha1/executions", wantBody: spec, want: []any{exec, true},
		},
		{
			name: "submit existing", ans: answer{status: 200, body: exec},
			call: func(ctx context.Context, c *Client) (any, error) {
				ex, created, err := c.SubmitExecution(ctx, spec)
				return []any{ex, created}, err
			},
			wantMethod: "POST", wantPath: "/api/v1alpha1/executions", wantBody: spec, want: []any{exec, false},
		},
		{
			name: "get", ans: answer{status: 200, body: exec},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.GetExecution(ctx, key, false) },
			wantMethod: "GET", wantPath: "/api/v1alpha1/executions/flytesnacks/development/run-1", want: exec,
		},
		{
			name: "get stale", ans: answer{status: 200, body: exec},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.GetExecution(ctx, key, true) },
			wantMethod: "GET", wantPath: "/api/v1alpha1/executions/flytesnacks/development/run-1", wantQuery: "stale=true", want: exec,
		},
		{
			name: "get escapes segments", ans: answer{status: 200, body: exec},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.GetExecution(ctx, v1.ExecutionKey{Project: "a/b", Domain: "d?x", Name: "n m"}, false)
			},
			wantMethod: "GET", wantPath: "/api/v1alpha1/executions/a%2Fb/d%3Fx/n%20m", want: exec,
		},
		{
			name: "list with every filter", ans: answer{status: 200, body: v1.ExecutionList{Items: []v1.Execution{exec}, Continue: "tok2"}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListExecutions(ctx, ListOptions{Project: "p", Domain: "d", Phase: v1.PhaseRunning, Cluster: "east",
					Tier: v1.TierBestEffort, Limit: 50, Continue: "tok1", Stale: true})
			},
			wantMethod: "GET", wantPath: "/api/v1alpha1/executions",
			wantQuery: "cluster=east&continue=tok1&domain=d&limit=50&phase=Running&project=p&stale=true&tier=best-effort",
			want:      v1.ExecutionList{Items: []v1.Execution{exec}, Continue: "tok2"},
		},
		{
			name: "list without filters", ans: answer{status: 200, body: v1.ExecutionList{}},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ListExecutions(ctx, ListOptions{}) },
			wantMethod: "GET", wantPath: "/api/v1alpha1/executions", want: v1.ExecutionList{},
		},
		{
			name: "cancel", ans: answer{status: 200, body: exec},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.CancelExecution(ctx, key) },
			wantMethod: "POST", wantPath: "/api/v1alpha1/executions/flytesnacks/development/run-1/cancel", want: exec,
		},
		{
			name: "explain", ans: answer{status: 200, body: expl},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ExplainExecution(ctx, key) },
			wantMethod: "GET", wantPath: "/api/v1alpha1/executions/flytesnacks/development/run-1/explain", want: expl,
		},
		{
			name: "dry-run", ans: answer{status: 200, body: expl},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.DryRun(ctx, spec) },
			wantMethod: "POST", wantPath: "/api/v1alpha1/placement/dry-run", wantBody: spec, want: expl,
		},
		{
			name: "register created", ans: answer{status: 201, body: cluster},
			call: func(ctx context.Context, c *Client) (any, error) {
				cl, created, err := c.RegisterCluster(ctx, cluster.ClusterSpec)
				return []any{cl, created}, err
			},
			wantMethod: "POST", wantPath: "/api/v1alpha1/clusters", wantBody: cluster.ClusterSpec, want: []any{cluster, true},
		},
		{
			name: "register existing", ans: answer{status: 200, body: cluster},
			call: func(ctx context.Context, c *Client) (any, error) {
				cl, created, err := c.RegisterCluster(ctx, cluster.ClusterSpec)
				return []any{cl, created}, err
			},
			wantMethod: "POST", wantPath: "/api/v1alpha1/clusters", wantBody: cluster.ClusterSpec, want: []any{cluster, false},
		},
		{
			name: "list clusters", ans: answer{status: 200, body: v1.ClusterList{Items: []v1.Cluster{cluster}}},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ListClusters(ctx) },
			wantMethod: "GET", wantPath: "/api/v1alpha1/clusters", want: v1.ClusterList{Items: []v1.Cluster{cluster}},
		},
		{
			name: "get cluster", ans: answer{status: 200, body: cluster},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.GetCluster(ctx, "east") },
			wantMethod: "GET", wantPath: "/api/v1alpha1/clusters/east", want: cluster,
		},
		{
			name: "update cluster", ans: answer{status: 200, body: cluster},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.UpdateCluster(ctx, "east", patch) },
			wantMethod: "PATCH", wantPath: "/api/v1alpha1/clusters/east", wantBody: patch, want: cluster,
		},
		{
			name: "remove cluster", ans: answer{status: 204},
			call:       func(ctx context.Context, c *Client) (any, error) { return nil, c.RemoveCluster(ctx, "east") },
			wantMethod: "DELETE", wantPath: "/api/v1alpha1/clusters/east",
		},
		{
			name: "cordon", ans: answer{status: 200, body: cluster},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.Cordon(ctx, "east") },
			wantMethod: "POST", wantPath: "/api/v1alpha1/clusters/east/cordon", want: cluster,
		},
		{
			name: "uncordon", ans: answer{status: 200, body: cluster},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.Uncordon(ctx, "east") },
			wantMethod: "POST", wantPath: "/api/v1alpha1/clusters/east/uncordon", want: cluster,
		},
		{
			name: "drain", ans: answer{status: 200, body: cluster},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.Drain(ctx, "east", 30*time.Minute) },
			wantMethod: "POST", wantPath: "/api/v1alpha1/clusters/east/drain", wantBody: v1.DrainRequest{Deadline: "30m0s"}, want: cluster,
		},
		{
			name: "raft status", ans: answer{status: 200, body: v1.RaftStatus{ID: "n1", State: "Leader", Term: 3}},
			call:       func(ctx context.Context, c *Client) (any, error) { return c.RaftStatus(ctx) },
			wantMethod: "GET", wantPath: "/api/v1alpha1/raft", want: v1.RaftStatus{ID: "n1", State: "Leader", Term: 3},
		},
		{
			name: "raft join", ans: answer{status: 200},
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RaftJoin(ctx, v1.JoinRequest{ID: "n4", Address: "127.0.0.1:7004", HTTPAddress: "127.0.0.1:8084"})
			},
			wantMethod: "POST", wantPath: "/api/v1alpha1/raft/join",
			wantBody: v1.JoinRequest{ID: "n4", Address: "127.0.0.1:7004", HTTPAddress: "127.0.0.1:8084"},
		},
		{
			name: "raft remove", ans: answer{status: 204},
			call:       func(ctx context.Context, c *Client) (any, error) { return nil, c.RaftRemove(ctx, "n4") },
			wantMethod: "DELETE", wantPath: "/api/v1alpha1/raft/members/n4",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, reqs := recorder(t, tc.ans)
			got, err := tc.call(testCtx(t), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			rs := reqs()
			if len(rs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(rs))
			}
			r := rs[0]
			if r.Method != tc.wantMethod || r.RawPath != tc.wantPath || r.RawQuery != tc.wantQuery {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.RawPath, r.RawQuery, tc.wantMethod, tc.wantPath, tc.wantQuery)
			}
			jsonEqual(t, r.Body, tc.wantBody)
			if tc.wantBody != nil && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("result = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
