package federation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// soloLeader opens a single-voter Raft node that leads, with no service
// loops: the test drives the state and the breaker set alone.
func soloLeader(t *testing.T) *raftstore.Node {
	t.Helper()
	node, err := raftstore.Open(raftstore.Config{
		ID: "b1", Dir: t.TempDir(), BindAddr: "127.0.0.1:0", Bootstrap: true, NoSync: true,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond, CommitTimeout: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open node: %v", err)
	}
	t.Cleanup(func() { _ = node.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.WaitForLeader(ctx); err != nil {
		t.Fatalf("node never led: %v", err)
	}
	return node
}

// applyOK commits commands and fails the test on any refusal.
func applyOK(t *testing.T, node *raftstore.Node, cmds ...raftstore.Command) []raftstore.Result {
	t.Helper()
	res, err := node.ApplyBatch(ctxT(t), cmds)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("apply %s: %v", cmds[i].Type, r.Err)
		}
	}
	return res
}

// registerReady registers a cluster and heartbeats it to Ready.
func registerReady(t *testing.T, node *raftstore.Node, name string) {
	t.Helper()
	applyOK(t, node,
		raftstore.Command{Type: raftstore.CmdRegisterCluster, Cluster: &v1.ClusterSpec{Name: name, Weight: 1}},
		raftstore.Command{Type: raftstore.CmdHeartbeat, Name: name, Heartbeat: &v1.Heartbeat{AgentVersion: "test"}})
}

// placeOn submits n executions and assigns them to cluster at time at.
func placeOn(t *testing.T, node *raftstore.Node, cluster, prefix string, n int, at time.Time) []v1.ExecutionKey {
	t.Helper()
	var keys []v1.ExecutionKey
	for i := range n {
		sp := spec("breaker", fmt.Sprintf("%s-%d", prefix, i))
		applyOK(t, node, raftstore.Command{Type: raftstore.CmdSubmit, Submit: &raftstore.SubmitCmd{Spec: sp}})
		applyOK(t, node, raftstore.Command{Type: raftstore.CmdAssign, At: at, Assign: &raftstore.AssignCmd{Key: sp.Key(), Cluster: cluster, Attempt: 1}})
		keys = append(keys, sp.Key())
	}
	return keys
}

// reportAs applies an agent report for attempt 1.
func reportAs(t *testing.T, node *raftstore.Node, cluster string, key v1.ExecutionKey, phase v1.ExecutionPhase) {
	t.Helper()
	res := applyOK(t, node, raftstore.Command{Type: raftstore.CmdReport, Report: &raftstore.ReportCmd{Cluster: cluster,
		Report: v1.StatusReport{ExecutionKey: key, Attempt: 1, Phase: phase}}})
	if res[0].Verdict != v1.VerdictAccepted {
		t.Fatalf("report %s %s: verdict %s", key, phase, res[0].Verdict)
	}
}

func breakerOf(t *testing.T, node *raftstore.Node, cluster string) string {
	t.Helper()
	c, ok := node.State().Cluster(cluster)
	if !ok {
		t.Fatalf("no cluster %s", cluster)
	}
	return c.Breaker
}

func newTestBreakers(node *raftstore.Node, failures uint32, openFor time.Duration) *breakerSet {
	apply := func(ctx context.Context, cmd raftstore.Command) (raftstore.Result, error) {
		res, err := node.Apply(ctx, cmd)
		if err != nil {
			return res, err
		}
		return res, res.Err
	}
	return newBreakerSet(failures, openFor, 10*time.Second, apply, nil)
}

// TestBreakerSignals: start timeouts and start failures open a cluster's
// breaker, starts keep it closed and reset the count, and a workflow's own
// failure after it started does not count against the cluster.
func TestBreakerSignals(t *testing.T) {
	const start = 10 * time.Second
	type step struct {
		// phase each watched execution reports before the observation
		// ("" for none: it stays Assigned).
		phases []v1.ExecutionPhase
		// age of the assignments when observed.
		age  time.Duration
		want string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"unstarted past the timeout trips", []step{
			{phases: []v1.ExecutionPhase{"", "", ""}, age: start + time.Second, want: v1.BreakerOpen},
		}},
		{"unstarted within the timeout counts nothing", []step{
			{phases: []v1.ExecutionPhase{"", "", ""}, age: start / 2, want: v1.BreakerClosed},
		}},
		{"failed before running trips", []step{
			{phases: []v1.ExecutionPhase{"", "", ""}, age: 0, want: v1.BreakerClosed},
			{phases: []v1.ExecutionPhase{v1.PhaseFailed, v1.PhaseFailed, v1.PhaseFailed}, age: 0, want: v1.BreakerOpen},
		}},
		{"a start in between resets the count", []step{
			{phases: []v1.ExecutionPhase{"", "", "", ""}, age: 0, want: v1.BreakerClosed},
			{phases: []v1.ExecutionPhase{v1.PhaseFailed, v1.PhaseFailed, v1.PhaseRunning, v1.PhaseFailed}, age: 0, want: v1.BreakerClosed},
		}},
		{"three failures in a row trip", []step{
			{phases: []v1.ExecutionPhase{"", "", "", ""}, age: 0, want: v1.BreakerClosed},
			{phases: []v1.ExecutionPhase{v1.PhaseRunning, v1.PhaseFailed, v1.PhaseFailed, v1.PhaseFailed}, age: 0, want: v1.BreakerOpen},
		}},
		{"failed after running is the workflow's own failure", []step{
			{phases: []v1.ExecutionPhase{v1.PhaseRunning, v1.PhaseRunning, v1.PhaseRunning}, age: 0, want: v1.BreakerClosed},
			{phases: []v1.ExecutionPhase{v1.PhaseFailed, v1.PhaseFailed, v1.PhaseFailed}, age: 0, want: v1.BreakerClosed},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node := soloLeader(t)
			registerReady(t, node, "east")
			placedAt := time.Now().UTC()
			keys := placeOn(t, node, "east", "x", len(tc.steps[0].phases), placedAt)
			b := newTestBreakers(node, 3, time.Hour)
			b.startWithin = start
			for i, s := range tc.steps {
				for j, p := range s.phases {
					if p != "" {
						reportAs(t, node, "east", keys[j], p)
					}
				}
				b.observe(ctxT(t), node.State(), placedAt.Add(s.age))
				if got := breakerOf(t, node, "east"); got != s.want {
					t.Fatalf("step %d: breaker %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

// TestBreakerHalfOpenProbe: an open breaker turns half-open after its open
// time, the scheduler then admits a single probe, and the probe's start
// closes it (or its failure opens it again).
func TestBreakerHalfOpenProbe(t *testing.T) {
	cases := []struct {
		name  string
		probe v1.ExecutionPhase
		want  string
	}{
		{"probe starts", v1.PhaseRunning, v1.BreakerClosed},
		{"probe fails to start", v1.PhaseFailed, v1.BreakerOpen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node := soloLeader(t)
			registerReady(t, node, "east")
			const openFor = 150 * time.Millisecond
			b := newTestBreakers(node, 2, openFor)
			for _, k := range placeOn(t, node, "east", "bad", 2, time.Now().UTC()) {
				reportAs(t, node, "east", k, v1.PhaseFailed)
			}
			b.observe(ctxT(t), node.State(), time.Now().UTC()) // sees them Assigned
			b.observe(ctxT(t), node.State(), time.Now().UTC())
			if got := breakerOf(t, node, "east"); got != v1.BreakerClosed {
				// The failed ones finished before the first observation:
				// nothing watched them, so nothing counted.
				t.Fatalf("breaker %q before any watched failure", got)
			}
			bad := placeOn(t, node, "east", "worse", 2, time.Now().UTC())
			b.observe(ctxT(t), node.State(), time.Now().UTC())
			for _, k := range bad {
				reportAs(t, node, "east", k, v1.PhaseFailed)
			}
			b.observe(ctxT(t), node.State(), time.Now().UTC())
			if got := breakerOf(t, node, "east"); got != v1.BreakerOpen {
				t.Fatalf("breaker %q after 2 start failures, want open", got)
			}

			time.Sleep(openFor + 50*time.Millisecond)
			b.observe(ctxT(t), node.State(), time.Now().UTC())
			if got := breakerOf(t, node, "east"); got != v1.BreakerHalfOpen {
				t.Fatalf("breaker %q after its open time, want half-open", got)
			}

			// Placement sees half-open and admits one probe; once it is
			// out, the scheduler's view is open until the probe decided.
			srv, err := New(testConfig(), node)
			if err != nil {
				t.Fatal(err)
			}
			sc := newScheduler(srv)
			if got := viewBreaker(sc, node, "east"); got != v1.BreakerHalfOpen {
				t.Fatalf("scheduler view %q before the probe, want half-open", got)
			}
			probe := placeOn(t, node, "east", "probe", 1, time.Now().UTC())[0]
			if got := viewBreaker(sc, node, "east"); got != v1.BreakerOpen {
				t.Fatalf("scheduler view %q with the probe out, want open", got)
			}
			b.observe(ctxT(t), node.State(), time.Now().UTC())
			reportAs(t, node, "east", probe, tc.probe)
			b.observe(ctxT(t), node.State(), time.Now().UTC())
			if got := breakerOf(t, node, "east"); got != tc.want {
				t.Fatalf("breaker %q after the probe %s, want %q", got, tc.probe, tc.want)
			}
		})
	}
}

func viewBreaker(sc *scheduler, node *raftstore.Node, cluster string) string {
	for _, c := range sc.snapshot(node.State(), time.Now().UTC()).Clusters {
		if c.Name == cluster {
			return c.Breaker
		}
	}
	return ""
}

// TestBreakerSurvivesLeaderChange: a new leader's fresh breaker set keeps a
// replicated open breaker open instead of closing it.
func TestBreakerSurvivesLeaderChange(t *testing.T) {
	node := soloLeader(t)
	registerReady(t, node, "east")
	applyOK(t, node, raftstore.Command{Type: raftstore.CmdSetBreaker, Name: "east", Breaker: v1.BreakerOpen})
	b := newTestBreakers(node, 3, time.Hour)
	b.observe(ctxT(t), node.State(), time.Now().UTC())
	if got := breakerOf(t, node, "east"); got != v1.BreakerOpen {
		t.Fatalf("a new leader's breaker made it %q, want it kept open", got)
	}
}
