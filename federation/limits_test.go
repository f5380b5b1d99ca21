package federation

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// smallLimits are limits small enough to cross with small bodies.
var smallLimits = v1.Limits{
	MaxNodes: 4, MaxLabels: 2, MaxInputs: 2, MaxInputBytes: 64,
	MaxDependsOn: 4, MaxRetries: 3, MaxAttempts: 5, MaxCommandArgs: 4,
}

// TestLimitsAreRefusedWithClearErrorsAndNeverReachTheLog crosses every
// limit once, as an authenticated admin, and checks the JSON error and that
// the Raft log did not move.
func TestLimitsAreRefusedWithClearErrorsAndNeverReachTheLog(t *testing.T) {
	rs := startAuthControlPlane(t, 1, withAuth(t, func(c *Config) {
		c.Limits = smallLimits
		c.MaxBodyBytes = 4 << 10
		c.SubmitRate = 0 // this test is about the other limits
	}))
	r := rs[0]
	ctx := ctxT(t)
	if _, _, err := r.client.RegisterCluster(ctx, v1.ClusterSpec{Name: "c1"}); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(s *v1.ExecutionSpec)) v1.ExecutionSpec {
		s := spec("a", "limit")
		f(&s)
		return s
	}
	fanOut := func(n int) []v1.TaskNode {
		nodes := []v1.TaskNode{{ID: "root", Image: "busybox"}}
		for i := 1; i < n; i++ {
			nodes = append(nodes, v1.TaskNode{ID: fmt.Sprintf("leaf-%d", i), Image: "busybox", DependsOn: []string{"root"}})
		}
		return nodes
	}
	labels := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	p := v1.APIPrefix
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		want   string
	}{
		{"body size", "POST", p + "/executions", `{"project":"` + strings.Repeat("a", 5<<10) + `"}`, 413, "over 4096 bytes"},
		{"nodes per workflow", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes = fanOut(5) }), 400, "5 nodes, at most 4"},
		{"dependencies per node", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) {
			s.Workflow.Nodes = fanOut(4)
			s.Workflow.Nodes[3].DependsOn = []string{"root", "leaf-1", "leaf-2", "root", "leaf-1"}
		}), 400, "5 dependencies, at most 4"},
		{"preferred label count", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.PreferredLabels = labels(3) }), 400, "3 labels, at most 2"},
		{"label value length", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.PreferredLabels = map[string]string{"k": strings.Repeat("v", 64)} }), 400, "no more than 63"},
		{"label key length", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.PreferredLabels = map[string]string{strings.Repeat("k", 64): "v"} }), 400, "no more than 63"},
		{"selector label value", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) {
			s.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"k": "no spaces"}}
		}), 400, "clusterSelector"},
		{"name not DNS-1123", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Name = "Run_1" }), 400, "name \"Run_1\""},
		{"name too long", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Name = strings.Repeat("n", 64) }), 400, "no more than 63"},
		{"project not DNS-1123", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Project = "a.b" }), 400, "project"},
		{"node id not DNS-1123", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes[0].ID = "Extract" }), 400, "DNS-1123"},
		{"input count", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Inputs = map[string]string{"date": "x", "b": "y", "c": "z"} }), 400, "3 inputs, at most 2"},
		{"input size", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Inputs = map[string]string{"date": strings.Repeat("x", 100)} }), 400, "bytes, at most 64"},
		{"command args", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes[0].Args = []string{"1", "2", "3"} }), 400, "at most 4"},
		{"retries", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes[0].Retries = 4 }), 400, "retries 4"},
		{"max attempts", "POST", p + "/executions", mutate(func(s *v1.ExecutionSpec) { s.MaxAttempts = 6 }), 400, "maxAttempts 6"},
		{"cluster label count", "POST", p + "/clusters", v1.ClusterSpec{Name: "c2", Labels: labels(3)}, 400, "3 labels, at most 2"},
		{"cluster name", "POST", p + "/clusters", v1.ClusterSpec{Name: "East_1"}, 400, "name \"East_1\""},
		{"cluster patch labels", "PATCH", p + "/clusters/c1", v1.ClusterPatch{Labels: labels(3)}, 400, "3 labels, at most 2"},
		{"report batch body", "POST", p + "/clusters/c1/reports", `{"reports":[` + strings.Repeat(`{"phase":"Running"},`, 300) + `{}]}`, 413, "too large"},
	}
	before := r.node.Status().LastIndex
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tokAdmin
			if strings.Contains(tc.path, "/reports") {
				tok = tokAgentC1
			}
			status, eb, _ := call(t, r.url, tok, tc.method, tc.path, tc.body)
			if status != tc.status || !strings.Contains(eb.Error.Message, tc.want) {
				t.Fatalf("got %d %+v, want %d mentioning %q", status, eb.Error, tc.status, tc.want)
			}
		})
	}
	if after := r.node.Status().LastIndex; after != before {
		t.Fatalf("refused requests reached the Raft log: last index %d -> %d", before, after)
	}
	// A submitter's over-size body is refused by the authorization peek
	// with the same answer.
	status, eb, _ := call(t, r.url, tokSubA, "POST", p+"/executions", `{"project":"`+strings.Repeat("a", 5<<10)+`"}`)
	if status != http.StatusRequestEntityTooLarge || eb.Error.Code != v1.CodeTooLarge {
		t.Fatalf("submitter over the body limit: %d %+v, want 413", status, eb.Error)
	}
}

// TestSubmissionRateLimitIsPerToken: a token over its budget gets 429 with
// Retry-After, nothing of the refused submission is logged, and another
// token is not affected.
func TestSubmissionRateLimitIsPerToken(t *testing.T) {
	rs := startAuthControlPlane(t, 1, withAuth(t, func(c *Config) {
		c.SubmitRate = 0.5 // one every two seconds
		c.SubmitBurst = 3
	}))
	r := rs[0]
	p := v1.APIPrefix
	for i := range 3 {
		if status, eb, _ := call(t, r.url, tokSubA, "POST", p+"/executions", spec("a", fmt.Sprintf("burst-%d", i))); status != http.StatusCreated {
			t.Fatalf("submission %d within the burst: %d %+v", i, status, eb.Error)
		}
	}
	before := r.node.Status().LastIndex
	status, eb, h := call(t, r.url, tokSubA, "POST", p+"/executions", spec("a", "over"))
	if status != http.StatusTooManyRequests || eb.Error.Code != v1.CodeRateLimited || !strings.Contains(eb.Error.Message, "ci-a") {
		t.Fatalf("over the burst: %d %+v, want 429 RateLimited naming the token's name", status, eb.Error)
	}
	if strings.Contains(eb.Error.Message, tokSubA) {
		t.Fatal("the 429 message reveals the token")
	}
	secs, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 2 {
		t.Fatalf("Retry-After %q, want 1 or 2 seconds", h.Get("Retry-After"))
	}
	if after := r.node.Status().LastIndex; after != before {
		t.Fatalf("a rate-limited submission reached the Raft log: %d -> %d", before, after)
	}
	if _, ok := r.node.State().Execution(v1.ExecutionKey{Project: "a", Domain: "production", Name: "over"}); ok {
		t.Fatal("a rate-limited submission was stored")
	}
	// Another token has its own budget.
	if status, eb, _ := call(t, r.url, tokSubAll, "POST", p+"/executions", spec("a", "other-token")); status != http.StatusCreated {
		t.Fatalf("another token: %d %+v", status, eb.Error)
	}
	// Waiting as told lets the first token through again.
	time.Sleep(time.Duration(secs) * time.Second)
	if status, eb, _ := call(t, r.url, tokSubA, "POST", p+"/executions", spec("a", "after-wait")); status != http.StatusCreated {
		t.Fatalf("after Retry-After: %d %+v", status, eb.Error)
	}
}

func TestSubmitLimiter(t *testing.T) {
	if ok, _ := newSubmitLimiter(0, 5).allow("x", time.Now()); !ok {
		t.Fatal("a zero rate must mean no limit")
	}
	l := newSubmitLimiter(2, 2)
	t0 := time.Unix(1000, 0)
	for i, tc := range []struct {
		key  string
		at   time.Duration
		ok   bool
		wait time.Duration
	}{
		{"a", 0, true, 0},
		{"a", 0, true, 0},
		{"a", 0, false, 500 * time.Millisecond},
		{"b", 0, true, 0}, // per key
		{"a", 250 * time.Millisecond, false, 250 * time.Millisecond},
		{"a", 500 * time.Millisecond, true, 0}, // refused tries took nothing
		{"a", 500 * time.Millisecond, false, 500 * time.Millisecond},
	} {
		ok, wait := l.allow(tc.key, t0.Add(tc.at))
		if ok != tc.ok || wait != tc.wait {
			t.Fatalf("step %d: allow(%s, +%s) = %v %s, want %v %s", i, tc.key, tc.at, ok, wait, tc.ok, tc.wait)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {90 * time.Second, 90}} {
		if got := retryAfterSeconds(tc.d); got != tc.want {
			t.Fatalf("retryAfterSeconds(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
