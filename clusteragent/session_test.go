package clusteragent_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/sim"
	"github.com/federation-dev/federation/federation/client"
	"github.com/prometheus/client_golang/prometheus"
)

// countingBackend counts the Start and Abort calls that reach the sim.
type countingBackend struct {
	*sim.Backend
	mu     sync.Mutex
	starts map[string]int // "name/attempt"
	aborts map[string]int
}

func idOf(k v1.ExecutionKey, attempt int) string {
	return k.Name + "/" + string(rune('0'+attempt))
}

func (c *countingBackend) Start(ctx context.Context, a v1.Assignment) error {
	c.mu.Lock()
	c.starts[idOf(a.Key(), a.Attempt)]++
	c.mu.Unlock()
	return c.Backend.Start(ctx, a)
}

func (c *countingBackend) Abort(ctx context.Context, k v1.ExecutionKey, attempt int) error {
	c.mu.Lock()
	c.aborts[idOf(k, attempt)]++
	c.mu.Unlock()
	return c.Backend.Abort(ctx, k, attempt)
}

func (c *countingBackend) startsOf(name string, attempt int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts[name+"/"+string(rune('0'+attempt))]
}

func (c *countingBackend) abortsOf(name string, attempt int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aborts[name+"/"+string(rune('0'+attempt))]
}

// holds reports the phase of a workflow copy in the backend, "" if absent.
func (c *countingBackend) holds(name string, attempt int) v1.ExecutionPhase {
	l, _ := c.List(context.Background())
	for _, w := range l {
		if w.Key.Name == name && w.Attempt == attempt {
			return w.Phase
		}
	}
	return ""
}

type harness struct {
	cp      *fakeControlPlane
	backend *countingBackend
	reg     *prometheus.Registry
	agent   *clusteragent.Agent
	done    chan error
	cancel  context.CancelFunc
}

type harnessOptions struct {
	taskDuration time.Duration
	leaseGrace   time.Duration
	cp           *fakeControlPlane
}

// testConfig has intervals short enough for a test to see many rounds.
func testConfig(reg *prometheus.Registry) clusteragent.Config {
	return clusteragent.Config{
		Cluster:           "member-1",
		Version:           "test",
		HeartbeatInterval: 20 * time.Millisecond,
		LongPollWait:      200 * time.Millisecond,
		ReportInterval:    50 * time.Millisecond,
		CallTimeout:       time.Second,
		BackoffBase:       5 * time.Millisecond,
		BackoffMax:        50 * time.Millisecond,
		BreakerFailures:   3,
		BreakerTimeout:    300 * time.Millisecond,
		Registry:          reg,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// start runs a sim and an agent against a fake control plane until the
// test ends.
func start(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	if o.taskDuration == 0 {
		o.taskDuration = 30 * time.Millisecond
	}
	if o.cp == nil {
		o.cp = newFakeControlPlane()
	}
	sb, err := sim.New(sim.Options{Capacity: v1.Amounts{MilliCPU: 64000, MemoryBytes: 64 << 30, Pods: 100}, TaskDuration: o.taskDuration})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		cp:      o.cp,
		backend: &countingBackend{Backend: sb, starts: map[string]int{}, aborts: map[string]int{}},
		reg:     prometheus.NewRegistry(),
		done:    make(chan error, 1),
	}
	cfg := testConfig(h.reg)
	cfg.LeaseGrace = o.leaseGrace
	h.agent, err = clusteragent.New(cfg, h.cp, h.backend)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.cancel = cancel
	var wg sync.WaitGroup
	wg.Go(func() { _ = sb.Run(ctx) })
	wg.Go(func() { h.done <- h.agent.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return h
}

func spec(name string, nodes ...string) v1.ExecutionSpec {
	s := v1.ExecutionSpec{Project: "p", Domain: "d", Name: name}
	prev := ""
	for _, id := range nodes {
		n := v1.TaskNode{ID: id, Image: "busybox", Resources: v1.Resources{CPU: "1"}}
		if prev != "" {
			n.DependsOn = []string{prev}
		}
		s.Workflow.Nodes = append(s.Workflow.Nodes, n)
		prev = id
	}
	return s
}

func key(name string) v1.ExecutionKey { return v1.ExecutionKey{Project: "p", Domain: "d", Name: name} }

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metric returns the value of a gauge or counter with one label.
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, label, value)
	return 0
}

// TestNotRegistered: the first heartbeat's 404 ends Run with
// ErrClusterNotRegistered, also after other errors; without it Run goes on.
func TestNotRegistered(t *testing.T) {
	tests := []struct {
		name       string
		registered bool
		firstErr   error // returned by the first heartbeats
		wantErr    bool
	}{
		{"unregistered", false, nil, true},
		{"unregistered after a control plane outage", false, &client.APIError{Status: http.StatusServiceUnavailable, Code: v1.CodeUnavailable}, true},
		{"registered after an outage", true, errDown, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp := newFakeControlPlane()
			cp.setRegistered(tc.registered)
			if tc.firstErr != nil {
				cp.fail("heartbeat", tc.firstErr)
				time.AfterFunc(100*time.Millisecond, func() { cp.fail("heartbeat", nil) })
			}
			h := start(t, harnessOptions{cp: cp})
			select {
			case err := <-h.done:
				if !tc.wantErr {
					t.Fatalf("Run returned %v while the cluster is registered", err)
				}
				if !errors.Is(err, clusteragent.ErrClusterNotRegistered) || !strings.Contains(err.Error(), "cluster member-1 is not registered") ||
					!strings.Contains(err.Error(), "fedctl cluster register") {
					t.Fatalf("Run = %v, want ErrClusterNotRegistered naming the cluster and the fix", err)
				}
			case <-time.After(time.Second):
				if tc.wantErr {
					t.Fatal("Run did not give up on an unregistered cluster")
				}
				if cp.reachedCalls("assignments") == 0 {
					t.Fatal("the session did not start polling after connecting")
				}
				h.cancel()
				if err := <-h.done; err != nil {
					t.Fatalf("Run after cancel = %v, want nil", err)
				}
			}
		})
	}
}

// TestAssignmentsStartedOnce: an assignment list sent again and again starts
// each workflow once; its reports reach the control plane, and the finished
// workflow is deleted from the backend once its final report is accepted.
func TestAssignmentsStartedOnce(t *testing.T) {
	h := start(t, harnessOptions{taskDuration: 100 * time.Millisecond})
	h.cp.assign(spec("once", "a", "b", "c"), 1)
	h.cp.assign(spec("twice", "a"), 1)
	waitFor(t, "both started", func() bool { return h.backend.startsOf("once", 1) == 1 && h.backend.startsOf("twice", 1) == 1 })
	for range 5 {
		h.cp.resend()
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "both succeeded at the control plane", func() bool {
		return h.cp.phase(key("once")) == v1.PhaseSucceeded && h.cp.phase(key("twice")) == v1.PhaseSucceeded
	})
	waitFor(t, "finished workflows deleted from the backend", func() bool {
		return h.backend.holds("once", 1) == "" && h.backend.holds("twice", 1) == ""
	})
	h.cp.resend()
	time.Sleep(100 * time.Millisecond)
	for _, n := range []string{"once", "twice"} {
		if got := h.backend.startsOf(n, 1); got != 1 {
			t.Errorf("%s started %d times, want once", n, got)
		}
	}
	var final *v1.StatusReport
	for _, r := range h.cp.acceptedReports() {
		if r.Name == "once" && r.Phase == v1.PhaseSucceeded {
			final = &r
		}
	}
	if final == nil || len(final.Nodes) != 3 || final.Nodes["c"].Outputs["path"] != "sim://p/d/once/c" {
		t.Fatalf("final report of once = %+v, want its three nodes with outputs", final)
	}
	if got := metric(t, h.reg, "clusteragent_reports_total", "verdict", "accepted"); got < 2 {
		t.Fatalf("accepted reports metric = %v", got)
	}
}

// TestStaleCopiesAborted: a stale verdict aborts and deletes the copy and an
// older list does not restart it; a new attempt replaces the old copy.
func TestStaleCopiesAborted(t *testing.T) {
	h := start(t, harnessOptions{taskDuration: 5 * time.Second})
	h.cp.setVerdict(func(r v1.StatusReport) (v1.ReportVerdict, bool) {
		return v1.VerdictStale, r.Name == "refused"
	})
	h.cp.assign(spec("refused", "a"), 1)
	h.cp.assign(spec("moved", "a"), 1)
	waitFor(t, "refused copy aborted and deleted", func() bool {
		return h.backend.abortsOf("refused", 1) > 0 && h.backend.holds("refused", 1) == ""
	})
	waitFor(t, "moved running", func() bool { return h.backend.holds("moved", 1) == v1.PhaseRunning })
	// The fake still lists "refused": the agent must not start it again.
	h.cp.resend()
	h.cp.assign(spec("moved", "a"), 2)
	waitFor(t, "attempt 2 started and attempt 1 gone", func() bool {
		return h.backend.holds("moved", 2) == v1.PhaseRunning && h.backend.holds("moved", 1) == ""
	})
	if got := h.backend.abortsOf("moved", 1); got == 0 {
		t.Fatal("attempt 1 was deleted without being aborted")
	}
	time.Sleep(100 * time.Millisecond)
	if got := h.backend.startsOf("refused", 1); got != 1 {
		t.Fatalf("refused copy started %d times, want once", got)
	}
	if got := metric(t, h.reg, "clusteragent_reports_total", "verdict", "stale"); got < 1 {
		t.Fatalf("stale reports metric = %v", got)
	}
}

// TestCancel: an execution moved to Aborting is aborted and confirmed; one
// cancelled before this cluster ran it is confirmed too.
func TestCancel(t *testing.T) {
	h := start(t, harnessOptions{taskDuration: 5 * time.Second})
	h.cp.assign(spec("cancel-me", "a", "b"), 1)
	waitFor(t, "running at the control plane", func() bool { return h.cp.phase(key("cancel-me")) == v1.PhaseRunning })
	h.cp.cancel(key("cancel-me"))
	waitFor(t, "aborted at the control plane", func() bool { return h.cp.phase(key("cancel-me")) == v1.PhaseAborted })
	waitFor(t, "deleted from the backend", func() bool { return h.backend.holds("cancel-me", 1) == "" })

	h.cp.mu.Lock()
	h.cp.execs[key("never-ran")] = &fakeExec{spec: spec("never-ran", "a"), attempt: 3, phase: v1.PhaseAborting}
	h.cp.bump()
	h.cp.mu.Unlock()
	waitFor(t, "never-ran confirmed aborted", func() bool { return h.cp.phase(key("never-ran")) == v1.PhaseAborted })
	if got := h.backend.startsOf("never-ran", 3); got != 0 {
		t.Fatalf("a cancelled execution was started %d times", got)
	}
}

// TestControlPlaneDown: while the control plane is unreachable workflows
// keep running to the end; their reports are kept and delivered when it
// returns, and only then are the workflows deleted.
func TestControlPlaneDown(t *testing.T) {
	h := start(t, harnessOptions{taskDuration: 60 * time.Millisecond})
	names := []string{"w1", "w2", "w3"}
	for _, n := range names {
		h.cp.assign(spec(n, "a", "b", "c"), 1)
	}
	waitFor(t, "all running at the control plane", func() bool {
		for _, n := range names {
			if h.cp.phase(key(n)) != v1.PhaseRunning {
				return false
			}
		}
		return true
	})
	h.cp.fail("all", errDown)
	acceptedBefore := len(h.cp.acceptedReports())
	waitFor(t, "all succeeded in the cluster while the control plane is down", func() bool {
		for _, n := range names {
			if h.backend.holds(n, 1) != v1.PhaseSucceeded {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // several failed rounds, breakers open
	if got := len(h.cp.acceptedReports()); got != acceptedBefore {
		t.Fatalf("%d reports accepted while the control plane was down", got-acceptedBefore)
	}
	for _, n := range names {
		if h.backend.holds(n, 1) != v1.PhaseSucceeded {
			t.Fatalf("%s was deleted before its final report was delivered", n)
		}
	}
	h.cp.fail("all", nil)
	waitFor(t, "final reports delivered", func() bool {
		for _, n := range names {
			if h.cp.phase(key(n)) != v1.PhaseSucceeded {
				return false
			}
		}
		return true
	})
	waitFor(t, "finished workflows deleted", func() bool {
		for _, n := range names {
			if h.backend.holds(n, 1) != "" {
				return false
			}
		}
		return true
	})
	for _, r := range h.cp.acceptedReports() {
		if r.Phase == v1.PhaseSucceeded {
			for id, ns := range r.Nodes {
				if ns.Phase != v1.NodeSucceeded {
					t.Fatalf("final report of %s has node %s %s", r.Name, id, ns.Phase)
				}
			}
		}
	}
	if got := metric(t, h.reg, "clusteragent_session_errors_total", "call", "report"); got == 0 {
		t.Fatal("no report errors counted during the outage")
	}
}

// TestBreaker: the breakers open while the control plane fails, which stops
// the calls from reaching it, and close again once it answers. 4xx answers
// (other than 429) are the control plane refusing a request, not failing:
// they leave the breaker closed.
func TestBreaker(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantOpen bool
	}{
		{"unreachable", errDown, true},
		{"503", &client.APIError{Status: http.StatusServiceUnavailable, Code: v1.CodeUnavailable}, true},
		{"429", &client.APIError{Status: http.StatusTooManyRequests, Code: v1.CodeRateLimited}, true},
		{"400", &client.APIError{Status: http.StatusBadRequest, Code: v1.CodeInvalid}, false},
		{"403", &client.APIError{Status: http.StatusForbidden, Code: v1.CodeForbidden}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, harnessOptions{})
			waitFor(t, "connected", func() bool { return h.cp.reachedCalls("heartbeat") > 0 })
			h.cp.fail("heartbeat", tc.err)
			if !tc.wantOpen {
				waitFor(t, "several heartbeat errors", func() bool {
					return metric(t, h.reg, "clusteragent_session_errors_total", "call", "heartbeat") >= 10
				})
				if got := metric(t, h.reg, "clusteragent_breaker_state", "call", "heartbeat"); got != 0 {
					t.Fatalf("breaker state %v after 4xx answers, want 0 (closed)", got)
				}
				return
			}
			waitFor(t, "heartbeat breaker open", func() bool {
				return metric(t, h.reg, "clusteragent_breaker_state", "call", "heartbeat") == 2
			})
			// While open, only the half-open probe (one per breaker
			// timeout of 300ms) reaches the control plane, not one call
			// per 20ms heartbeat interval.
			before := h.cp.attemptedCalls("heartbeat")
			time.Sleep(700 * time.Millisecond)
			if d := h.cp.attemptedCalls("heartbeat") - before; d > 4 {
				t.Fatalf("%d heartbeats reached the control plane in 700ms behind an open breaker, want only probes", d)
			}
			reached := h.cp.reachedCalls("heartbeat")
			h.cp.fail("heartbeat", nil)
			waitFor(t, "heartbeat breaker closed again", func() bool {
				return metric(t, h.reg, "clusteragent_breaker_state", "call", "heartbeat") == 0
			})
			if h.cp.reachedCalls("heartbeat") <= reached {
				t.Fatal("breaker closed without a heartbeat reaching the control plane")
			}
		})
	}
}

// TestLeaseGrace: with no successful heartbeat for the lease grace the agent
// aborts and deletes its unfinished workflows; when the control plane
// returns and still lists them, they are started again.
func TestLeaseGrace(t *testing.T) {
	h := start(t, harnessOptions{taskDuration: 10 * time.Second, leaseGrace: 300 * time.Millisecond})
	h.cp.assign(spec("long", "a"), 1)
	waitFor(t, "running", func() bool { return h.cp.phase(key("long")) == v1.PhaseRunning })
	h.cp.fail("all", errDown)
	time.Sleep(150 * time.Millisecond)
	if h.backend.holds("long", 1) != v1.PhaseRunning {
		t.Fatal("workflow stopped before the lease grace passed")
	}
	waitFor(t, "aborted and deleted after the lease grace", func() bool {
		return h.backend.abortsOf("long", 1) == 1 && h.backend.holds("long", 1) == ""
	})
	h.cp.fail("all", nil)
	waitFor(t, "started again from the unchanged list", func() bool {
		return h.backend.startsOf("long", 1) == 2 && h.backend.holds("long", 1) == v1.PhaseRunning
	})
	for _, r := range h.cp.acceptedReports() {
		if r.Phase == v1.PhaseAborted {
			t.Fatal("a lease-expiry abort was reported as the execution's outcome")
		}
	}
}
