package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

func TestSubmitIsIdempotentByKey(t *testing.T) {
	rs := startControlPlane(t, 1, nil)
	c := rs[0].client
	ctx := ctxT(t)

	s := spec("pricing", "eta-0001")
	ex, created, err := c.SubmitExecution(ctx, s)
	if err != nil || !created {
		t.Fatalf("first submit: created=%v err=%v", created, err)
	}
	if ex.Phase != v1.PhaseQueued || ex.Attempt != 1 || ex.Tier != v1.TierStandard || ex.CreatedAt.IsZero() || len(ex.History) == 0 {
		t.Fatalf("first submit answered %+v", ex)
	}
	again, created, err := c.SubmitExecution(ctx, s)
	if err != nil || created {
		t.Fatalf("same spec again: created=%v err=%v, want 200 with the existing execution", created, err)
	}
	if again.Seq != ex.Seq {
		t.Fatalf("same spec again returned another execution: seq %d, want %d", again.Seq, ex.Seq)
	}
	other := s
	other.Tier = v1.TierCritical
	if _, _, err := c.SubmitExecution(ctx, other); !client.IsConflict(err) {
		t.Fatalf("different spec under the same name: err=%v, want 409", err)
	}
}

func TestBadInputIsRefusedAndNeverReachesTheLog(t *testing.T) {
	rs := startControlPlane(t, 1, func(c *Config) { c.MaxBodyBytes = 8 << 10 })
	r := rs[0]
	valid, _ := json.Marshal(spec("pricing", "ok-0001"))
	mutate := func(f func(s *v1.ExecutionSpec)) string {
		s := spec("pricing", "bad-0001")
		f(&s)
		b, _ := json.Marshal(s)
		return string(b)
	}
	cases := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"cycle", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes[0].DependsOn = []string{"train"} }), 400, "cycle"},
		{"dangling dependency", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes[1].DependsOn = []string{"nope"} }), 400, "not a node"},
		{"unknown tier", mutate(func(s *v1.ExecutionSpec) { s.Tier = "gold" }), 400, "tier"},
		{"invalid name", mutate(func(s *v1.ExecutionSpec) { s.Name = "Not_A_DNS_Label" }), 400, "name"},
		{"missing project", mutate(func(s *v1.ExecutionSpec) { s.Project = "" }), 400, "project is required"},
		{"no nodes", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes = nil }), 400, "at least one node"},
		{"bad resources", mutate(func(s *v1.ExecutionSpec) { s.Workflow.Nodes[0].Resources.CPU = "lots" }), 400, "cpu"},
		{"bad selector", mutate(func(s *v1.ExecutionSpec) {
			s.ClusterSelector = &v1.LabelSelector{MatchExpressions: []v1.LabelSelectorRequirement{{Key: "region", Operator: "Near"}}}
		}), 400, "operator"},
		{"unknown field", `{"project":"pricing","domain":"production","name":"x","wrokflow":{}}`, 400, "unknown field"},
		{"empty body", ``, 400, "empty body"},
		{"trailing data", string(valid) + `{}`, 400, "after the JSON object"},
		{"not JSON", `project=pricing`, 400, "decode"},
		{"too large", `{"project":"` + strings.Repeat("a", 10<<10) + `"}`, 413, "too large"},
	}
	before := r.node.Status().LastIndex
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(r.url+v1.APIPrefix+"/executions", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb v1.ErrorBody
			b, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(b, &eb); err != nil {
				t.Fatalf("error body is not JSON: %q", b)
			}
			if resp.StatusCode != tc.status || !strings.Contains(eb.Error.Message, tc.want) || eb.Error.Code == "" {
				t.Fatalf("got %d %+v, want %d mentioning %q", resp.StatusCode, eb.Error, tc.status, tc.want)
			}
		})
	}
	if after := r.node.Status().LastIndex; after != before {
		t.Fatalf("refused requests reached the Raft log: last index %d -> %d", before, after)
	}
}

func TestFollowerForwardsWritesAndServesReads(t *testing.T) {
	rs := startControlPlane(t, 3, nil)
	f := followerOf(t, rs)
	ctx := ctxT(t)

	ex, created, err := f.client.SubmitExecution(ctx, spec("search", "via-follower"))
	if err != nil || !created {
		t.Fatalf("submit through a follower: created=%v err=%v", created, err)
	}
	// A linearizable read on the follower sees the write at once.
	got, err := f.client.GetExecution(ctx, ex.Key(), false)
	if err != nil || got.SpecHash != ex.SpecHash {
		t.Fatalf("linearizable read through a follower: %v", err)
	}
	// A stale read is served locally and catches up.
	waitUntil(t, 5*time.Second, "the follower's local copy", func() bool {
		_, err := f.client.GetExecution(ctx, ex.Key(), true)
		return err == nil
	})
	if _, err := f.client.CancelExecution(ctx, ex.Key()); err != nil {
		t.Fatalf("cancel through a follower: %v", err)
	}
	got, err = f.client.GetExecution(ctx, ex.Key(), false)
	if err != nil || got.Phase != v1.PhaseAborted {
		t.Fatalf("after cancel: phase %s err %v, want Aborted", got.Phase, err)
	}
	if _, err := f.client.GetExecution(ctx, v1.ExecutionKey{Project: "search", Domain: "production", Name: "missing"}, false); !client.IsNotFound(err) {
		t.Fatalf("missing execution: %v, want 404", err)
	}
}

func TestWithoutQuorumWritesAnswer503(t *testing.T) {
	rs := startControlPlane(t, 3, nil)
	l := leaderOf(t, rs)
	for _, r := range rs {
		if r != l {
			r.stop()
		}
	}
	waitUntil(t, 10*time.Second, "the lone replica to step down", func() bool { return !l.node.IsLeader() })
	body, _ := json.Marshal(spec("pricing", "no-quorum"))
	resp, err := http.Post(l.url+v1.APIPrefix+"/executions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb v1.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	if resp.StatusCode != http.StatusServiceUnavailable || eb.Error.Code != v1.CodeUnavailable {
		t.Fatalf("submit without quorum: %d %+v, want 503 Unavailable", resp.StatusCode, eb.Error)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// Stale reads are still served on request.
	if _, err := l.client.ListClusters(ctxT(t)); !client.IsUnavailable(err) {
		t.Fatalf("linearizable read without quorum: %v, want 503", err)
	}
	resp2, err := http.Get(l.url + v1.APIPrefix + "/clusters?stale=true")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("stale read without quorum: %d, want 200", resp2.StatusCode)
	}
}

func TestClusterRegistryLifecycle(t *testing.T) {
	rs := startControlPlane(t, 1, nil)
	c := rs[0].client
	ctx := ctxT(t)
	spec := v1.ClusterSpec{Name: "us-east-a", Labels: map[string]string{"region": "us-east"}, Weight: 2, Tiers: []v1.Tier{v1.TierStandard}}
	cl, created, err := c.RegisterCluster(ctx, spec)
	if err != nil || !created || cl.State != v1.ClusterRegistered {
		t.Fatalf("register: %+v created=%v err=%v", cl, created, err)
	}
	if _, created, err := c.RegisterCluster(ctx, spec); err != nil || created {
		t.Fatalf("register again: created=%v err=%v, want 200", created, err)
	}
	other := spec
	other.Weight = 5
	if _, _, err := c.RegisterCluster(ctx, other); !client.IsConflict(err) {
		t.Fatalf("register with another spec: %v, want 409", err)
	}
	if _, _, err := c.RegisterCluster(ctx, v1.ClusterSpec{Name: "Bad Name"}); client.StatusOf(err) != 400 {
		t.Fatalf("register a bad name: %v, want 400", err)
	}
	w := 7
	cl, err = c.UpdateCluster(ctx, "us-east-a", v1.ClusterPatch{Weight: &w})
	if err != nil || cl.Weight != 7 {
		t.Fatalf("update weight: %+v %v", cl, err)
	}
	if _, err := c.UpdateCluster(ctx, "us-east-a", v1.ClusterPatch{Tiers: []v1.Tier{"gold"}}); client.StatusOf(err) != 400 {
		t.Fatalf("update with an unknown tier: %v, want 400", err)
	}
	if _, err := c.Heartbeat(ctx, "us-east-a", v1.Heartbeat{AgentVersion: "test"}); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	for _, step := range []struct {
		do   func() (v1.Cluster, error)
		want v1.ClusterState
	}{
		{func() (v1.Cluster, error) { return c.Cordon(ctx, "us-east-a") }, v1.ClusterCordoned},
		{func() (v1.Cluster, error) { return c.Uncordon(ctx, "us-east-a") }, v1.ClusterReady},
		{func() (v1.Cluster, error) { return c.Drain(ctx, "us-east-a", time.Minute) }, v1.ClusterDrained},
	} {
		cl, err := step.do()
		if err != nil || cl.State != step.want {
			t.Fatalf("state %s err %v, want %s", cl.State, err, step.want)
		}
	}
	if err := c.RemoveCluster(ctx, "us-east-a"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := c.GetCluster(ctx, "us-east-a"); !client.IsNotFound(err) {
		t.Fatalf("get after remove: %v, want 404", err)
	}
}

// TestAgentProtocolPlacesRunsAndFences plays an agent through the HTTP API:
// heartbeat, long-poll, reports, and a stale attempt refused.
func TestAgentProtocolPlacesRunsAndFences(t *testing.T) {
	rs := startControlPlane(t, 3, nil)
	c := followerOf(t, rs).client
	ctx := ctxT(t)
	if _, _, err := c.RegisterCluster(ctx, v1.ClusterSpec{Name: "member-a", Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Heartbeat(ctx, "nope", v1.Heartbeat{}); !client.IsNotFound(err) {
		t.Fatalf("heartbeat of an unregistered cluster: %v, want 404", err)
	}
	capacity := v1.Capacity{Allocatable: v1.Amounts{MilliCPU: 16000, MemoryBytes: 64 << 30, Pods: 100}}
	capacity.Free = capacity.Allocatable
	hb, err := c.Heartbeat(ctx, "member-a", v1.Heartbeat{Capacity: capacity, AgentVersion: "test"})
	if err != nil || hb.State != v1.ClusterReady || !hb.Healthy {
		t.Fatalf("heartbeat: %+v %v", hb, err)
	}
	ex, _, err := c.SubmitExecution(ctx, spec("pricing", "agent-0001"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Assignments(ctx, "member-a", 0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for len(list.Items) == 0 {
		if list, err = c.Assignments(ctx, "member-a", list.Revision, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	a := list.Items[0]
	if a.Key() != ex.Key() || a.Attempt != 1 {
		t.Fatalf("assignment %+v, want %s attempt 1", a.ExecutionSpec.Key(), ex.Key())
	}
	report := func(attempt int, phase v1.ExecutionPhase) v1.ReportVerdict {
		t.Helper()
		res, err := c.Report(ctx, "member-a", v1.ReportBatch{Reports: []v1.StatusReport{{ExecutionKey: ex.Key(), Attempt: attempt, Phase: phase, At: time.Now()}}})
		if err != nil || len(res.Results) != 1 {
			t.Fatalf("report: %+v %v", res, err)
		}
		return res.Results[0].Verdict
	}
	if v := report(2, v1.PhaseRunning); v != v1.VerdictStale {
		t.Fatalf("report of a wrong attempt: %s, want stale", v)
	}
	if v := report(1, v1.PhaseRunning); v != v1.VerdictAccepted {
		t.Fatalf("report Running: %s", v)
	}
	if v := report(1, v1.PhaseSucceeded); v != v1.VerdictAccepted {
		t.Fatalf("report Succeeded: %s", v)
	}
	got, err := c.GetExecution(ctx, ex.Key(), false)
	if err != nil || got.Phase != v1.PhaseSucceeded || got.Cluster != "member-a" {
		t.Fatalf("after reports: %s on %q, %v", got.Phase, got.Cluster, err)
	}
	phases := []v1.ExecutionPhase{}
	for _, h := range got.History {
		phases = append(phases, h.Phase)
	}
	if fmt.Sprint(phases) != fmt.Sprint([]v1.ExecutionPhase{v1.PhaseQueued, v1.PhaseAssigned, v1.PhaseRunning, v1.PhaseSucceeded}) {
		t.Fatalf("history %v", phases)
	}
}

func TestRaftMemberRemovedThroughTheAPI(t *testing.T) {
	rs := startControlPlane(t, 3, nil)
	f := followerOf(t, rs)
	other := rs[0]
	if other == f {
		other = rs[1]
	}
	ctx := ctxT(t)
	if err := other.client.RaftRemove(ctx, f.id); err != nil {
		t.Fatalf("remove %s: %v", f.id, err)
	}
	st, err := other.client.RaftStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.ID == f.id {
			t.Fatalf("%s still a member: %+v", f.id, st.Members)
		}
	}
	if len(st.Members) != 2 || st.Leader == nil {
		t.Fatalf("after remove: %+v", st)
	}
}
