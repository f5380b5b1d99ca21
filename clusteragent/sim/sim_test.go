package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSim(t *testing.T, opts Options) (*Backend, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts.Clock = clk.Now
	if opts.TaskDuration == 0 {
		opts.TaskDuration = time.Second
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, clk
}

func assignment(name string, attempt int, nodes ...v1.TaskNode) v1.Assignment {
	return v1.Assignment{
		ExecutionSpec: v1.ExecutionSpec{Project: "p", Domain: "d", Name: name, Workflow: v1.WorkflowSpec{Nodes: nodes}},
		Attempt:       attempt,
		Phase:         v1.PhaseAssigned,
	}
}

func task(id string, deps ...string) v1.TaskNode {
	return v1.TaskNode{ID: id, Image: "busybox", DependsOn: deps, Resources: v1.Resources{CPU: "1"}}
}

func key(name string) v1.ExecutionKey { return v1.ExecutionKey{Project: "p", Domain: "d", Name: name} }

func get(t *testing.T, b *Backend, name string, attempt int) clusteragent.WorkflowState {
	t.Helper()
	l, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range l {
		if w.Key == key(name) && w.Attempt == attempt {
			return w
		}
	}
	t.Fatalf("workflow %s attempt %d not listed", name, attempt)
	return clusteragent.WorkflowState{}
}

func phases(w clusteragent.WorkflowState) map[string]v1.NodePhase {
	out := map[string]v1.NodePhase{}
	for id, n := range w.Nodes {
		out[id] = n.Phase
	}
	return out
}

func sameNodePhases(got, want map[string]v1.NodePhase) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestDAGOrder runs a diamond a -> (b, c) -> d and checks, step by step,
// that a node starts only once all it depends on succeeded, and that
// bindings to upstream outputs resolve.
func TestDAGOrder(t *testing.T) {
	b, clk := newSim(t, Options{Capacity: v1.Amounts{MilliCPU: 8000, MemoryBytes: 1 << 30, Pods: 10}})
	d := task("d", "b", "c")
	d.Inputs = map[string]v1.Binding{"x": {FromNode: "b", Output: OutputPath}}
	a := assignment("diamond", 1, d, task("c", "a"), task("b", "a"), task("a"))
	if err := b.Start(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	steps := []map[string]v1.NodePhase{
		{"a": v1.NodeRunning, "b": v1.NodePending, "c": v1.NodePending, "d": v1.NodePending},
		{"a": v1.NodeSucceeded, "b": v1.NodeRunning, "c": v1.NodeRunning, "d": v1.NodePending},
		{"a": v1.NodeSucceeded, "b": v1.NodeSucceeded, "c": v1.NodeSucceeded, "d": v1.NodeRunning},
		{"a": v1.NodeSucceeded, "b": v1.NodeSucceeded, "c": v1.NodeSucceeded, "d": v1.NodeSucceeded},
	}
	for i, want := range steps {
		b.Step()
		w := get(t, b, "diamond", 1)
		if got := phases(w); !sameNodePhases(got, want) {
			t.Fatalf("step %d: nodes %v, want %v", i, got, want)
		}
		clk.Advance(time.Second)
	}
	w := get(t, b, "diamond", 1)
	if w.Phase != v1.PhaseSucceeded {
		t.Fatalf("phase %s (%s), want Succeeded", w.Phase, w.Message)
	}
	if got := w.Nodes["b"].Outputs[OutputPath]; got != "sim://p/d/diamond/b" {
		t.Fatalf("output of b = %q", got)
	}
	if got := w.Outputs["d.path"]; got != "sim://p/d/diamond/d" {
		t.Fatalf("workflow outputs %v, want d.path", w.Outputs)
	}
}

// TestCapacityRespected checks that running nodes never hold more than the
// capacity, in each dimension, and that every node still runs in the end.
func TestCapacityRespected(t *testing.T) {
	tests := []struct {
		name     string
		capacity v1.Amounts
		res      v1.Resources
		perStep  int
	}{
		{"cpu bound", v1.Amounts{MilliCPU: 2500, MemoryBytes: 1 << 40, Pods: 100}, v1.Resources{CPU: "1"}, 2},
		{"memory bound", v1.Amounts{MilliCPU: 100000, MemoryBytes: 3 << 30, Pods: 100}, v1.Resources{Memory: "1Gi"}, 3},
		{"pods bound", v1.Amounts{MilliCPU: 100000, MemoryBytes: 1 << 40, Pods: 4}, v1.Resources{}, 4},
		{"gpu bound", v1.Amounts{MilliCPU: 100000, MemoryBytes: 1 << 40, GPU: 1, Pods: 100}, v1.Resources{GPU: "1"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, clk := newSim(t, Options{Capacity: tc.capacity})
			const total = 6
			for i := range total {
				n := task("t")
				n.Resources = tc.res
				if err := b.Start(context.Background(), assignment(string(rune('a'+i)), 1, n)); err != nil {
					t.Fatal(err)
				}
			}
			done := 0
			for step := 0; done < total; step++ {
				if step > total+1 {
					t.Fatalf("only %d of %d workflows finished after %d steps", done, total, step)
				}
				b.Step()
				c, _ := b.Capacity(context.Background())
				if c.Free.MilliCPU < 0 || c.Free.MemoryBytes < 0 || c.Free.GPU < 0 || c.Free.Pods < 0 {
					t.Fatalf("step %d: free capacity %+v went negative", step, c.Free)
				}
				running := int(tc.capacity.Pods - c.Free.Pods)
				if want := min(tc.perStep, total-done); running != want {
					t.Fatalf("step %d: %d nodes running, want %d", step, running, want)
				}
				done += running
				clk.Advance(time.Second)
			}
			b.Step()
			c, _ := b.Capacity(context.Background())
			if c.Free != tc.capacity || c.RunningWorkflows != 0 {
				t.Fatalf("after all finished: %+v, want everything free", c)
			}
		})
	}
}

// TestNodeLargerThanCluster fails a node that can never fit instead of
// letting its workflow wait forever.
func TestNodeLargerThanCluster(t *testing.T) {
	b, _ := newSim(t, Options{Capacity: v1.Amounts{MilliCPU: 1000, MemoryBytes: 1 << 30, Pods: 10}})
	n := task("big")
	n.Resources.CPU = "2"
	if err := b.Start(context.Background(), assignment("big", 1, n, task("after", "big"))); err != nil {
		t.Fatal(err)
	}
	b.Step()
	w := get(t, b, "big", 1)
	if w.Phase != v1.PhaseFailed || w.Nodes["big"].Phase != v1.NodeFailed || w.Nodes["after"].Phase != v1.NodeSkipped {
		t.Fatalf("workflow %s %v, want Failed with big Failed and after Skipped", w.Phase, phases(w))
	}
}

// TestAbort stops running nodes, frees their capacity and is idempotent;
// Delete forgets the workflow.
func TestAbort(t *testing.T) {
	ctx := context.Background()
	capy := v1.Amounts{MilliCPU: 4000, MemoryBytes: 1 << 30, Pods: 10}
	b, clk := newSim(t, Options{Capacity: capy})
	if err := b.Start(ctx, assignment("x", 1, task("a"), task("b"), task("c", "a", "b"))); err != nil {
		t.Fatal(err)
	}
	b.Step()
	if c, _ := b.Capacity(ctx); c.Free.Pods != capy.Pods-2 {
		t.Fatalf("free %+v, want two nodes running", c.Free)
	}
	for range 2 {
		if err := b.Abort(ctx, key("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Abort(ctx, key("unknown"), 1); err != nil {
		t.Fatalf("abort of an unknown workflow: %v", err)
	}
	w := get(t, b, "x", 1)
	want := map[string]v1.NodePhase{"a": v1.NodeAborted, "b": v1.NodeAborted, "c": v1.NodeSkipped}
	if w.Phase != v1.PhaseAborted || !sameNodePhases(phases(w), want) {
		t.Fatalf("after abort: %s %v, want Aborted %v", w.Phase, phases(w), want)
	}
	if c, _ := b.Capacity(ctx); c.Free != capy || c.RunningWorkflows != 0 {
		t.Fatalf("after abort capacity %+v, want all free", c)
	}
	clk.Advance(time.Hour)
	b.Step()
	if w := get(t, b, "x", 1); w.Phase != v1.PhaseAborted {
		t.Fatalf("an aborted workflow moved on to %s", w.Phase)
	}
	if err := b.Delete(ctx, key("x"), 1); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.List(ctx); len(l) != 0 {
		t.Fatalf("after delete: %d workflows listed", len(l))
	}
}

// TestResume succeeds the resumed nodes at once, keeps their outputs, and
// runs only the rest.
func TestResume(t *testing.T) {
	ctx := context.Background()
	b, clk := newSim(t, Options{Capacity: v1.Amounts{MilliCPU: 4000, MemoryBytes: 1 << 30, Pods: 10}})
	a := assignment("r", 2, task("a"), task("b", "a"), task("c", "b"))
	a.Resume = map[string]v1.NodeStatus{
		"a": {Phase: v1.NodeSucceeded, Attempts: 1, Outputs: map[string]string{OutputPath: "s3://earlier/a"}},
	}
	if err := b.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	w := get(t, b, "r", 2)
	if w.Nodes["a"].Phase != v1.NodeSucceeded || w.Nodes["a"].Outputs[OutputPath] != "s3://earlier/a" {
		t.Fatalf("resumed node a = %+v, want Succeeded with its earlier output", w.Nodes["a"])
	}
	b.Step()
	want := map[string]v1.NodePhase{"a": v1.NodeSucceeded, "b": v1.NodeRunning, "c": v1.NodePending}
	if got := phases(get(t, b, "r", 2)); !sameNodePhases(got, want) {
		t.Fatalf("first step: %v, want %v", got, want)
	}
	clk.Advance(time.Second)
	b.Step()
	clk.Advance(time.Second)
	b.Step()
	w = get(t, b, "r", 2)
	if w.Phase != v1.PhaseSucceeded || w.Nodes["a"].Attempts != 1 || w.Nodes["b"].Attempts != 1 {
		t.Fatalf("final %s %+v", w.Phase, w.Nodes)
	}
}

// TestStartIdempotent keeps a running workflow as it is when the same
// assignment arrives again, and holds another attempt separately.
func TestStartIdempotent(t *testing.T) {
	ctx := context.Background()
	b, clk := newSim(t, Options{Capacity: v1.Amounts{MilliCPU: 4000, MemoryBytes: 1 << 30, Pods: 10}})
	a := assignment("i", 1, task("a"), task("b", "a"))
	if err := b.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	b.Step()
	clk.Advance(time.Second)
	b.Step()
	if err := b.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	if w := get(t, b, "i", 1); w.Nodes["a"].Phase != v1.NodeSucceeded || w.Nodes["a"].Attempts != 1 {
		t.Fatalf("restart reset the workflow: %+v", w.Nodes)
	}
	a.Attempt = 2
	if err := b.Start(ctx, a); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.List(ctx); len(l) != 2 {
		t.Fatalf("%d workflows, want attempts 1 and 2", len(l))
	}
}

// TestFailuresAndRetries: with every run failing, a node is run 1+retries
// times, then fails the workflow and skips what depends on it. Timeouts
// shorter than the task fail the run too.
func TestFailuresAndRetries(t *testing.T) {
	tests := []struct {
		name     string
		failRate float64
		timeout  string
		retries  int
		attempts int
		phase    v1.ExecutionPhase
	}{
		{"always fails, no retries", 1, "", 0, 1, v1.PhaseFailed},
		{"always fails, two retries", 1, "", 2, 3, v1.PhaseFailed},
		{"never fails", 0, "", 2, 1, v1.PhaseSucceeded},
		{"times out", 0, "100ms", 1, 2, v1.PhaseFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b, clk := newSim(t, Options{Capacity: v1.Amounts{MilliCPU: 4000, MemoryBytes: 1 << 30, Pods: 10}, FailRate: tc.failRate, Seed: 7})
			n := task("a")
			n.Retries, n.Timeout = tc.retries, tc.timeout
			if err := b.Start(ctx, assignment("f", 1, n, task("b", "a"))); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				b.Step()
				clk.Advance(time.Second)
			}
			w := get(t, b, "f", 1)
			if w.Phase != tc.phase || w.Nodes["a"].Attempts != tc.attempts {
				t.Fatalf("phase %s, a ran %d times (%s); want %s after %d", w.Phase, w.Nodes["a"].Attempts, w.Nodes["a"].Message, tc.phase, tc.attempts)
			}
			if tc.phase == v1.PhaseFailed && w.Nodes["b"].Phase != v1.NodeSkipped {
				t.Fatalf("b is %s, want Skipped below a failed node", w.Nodes["b"].Phase)
			}
		})
	}
}

// TestSeededFailuresReplay: the same seed gives the same outcomes.
func TestSeededFailuresReplay(t *testing.T) {
	run := func(seed int64) []v1.ExecutionPhase {
		b, clk := newSim(t, Options{Capacity: v1.Amounts{MilliCPU: 100000, MemoryBytes: 1 << 40, Pods: 100}, FailRate: 0.5, Seed: seed})
		for i := range 20 {
			_ = b.Start(context.Background(), assignment(string(rune('a'+i)), 1, task("a")))
		}
		b.Step()
		clk.Advance(time.Second)
		b.Step()
		l, _ := b.List(context.Background())
		var out []v1.ExecutionPhase
		for _, w := range l {
			out = append(out, w.Phase)
		}
		return out
	}
	first, again := run(42), run(42)
	failed := 0
	for i := range first {
		if first[i] != again[i] {
			t.Fatalf("seed 42 replayed differently: %v vs %v", first, again)
		}
		if first[i] == v1.PhaseFailed {
			failed++
		}
	}
	if failed == 0 || failed == len(first) {
		t.Fatalf("fail rate 0.5 failed %d of %d", failed, len(first))
	}
}

// TestRunRealClock runs the simulation loop with the real clock and waits
// for a short workflow to finish, with a Changes tick on the way.
func TestRunRealClock(t *testing.T) {
	b, err := New(Options{Capacity: v1.Amounts{MilliCPU: 4000, MemoryBytes: 1 << 30, Pods: 10}, TaskDuration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sim backend run: %v", err)
		}
	})
	if err := b.Start(ctx, assignment("rt", 1, task("a"), task("b", "a"), task("c", "b"))); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case <-b.Changes():
		case <-ctx.Done():
			t.Fatal("workflow did not finish in time")
		}
		if w := get(t, b, "rt", 1); w.Phase == v1.PhaseSucceeded {
			return
		}
	}
}

func TestParseCapacity(t *testing.T) {
	tests := []struct {
		in      string
		want    v1.Amounts
		wantErr bool
	}{
		{in: "cpu=64,memory=256Gi,pods=500,gpu=0", want: v1.Amounts{MilliCPU: 64000, MemoryBytes: 256 << 30, Pods: 500}},
		{in: " cpu=500m , pods=3 ", want: v1.Amounts{MilliCPU: 500, Pods: 3}},
		{in: "gpu=8,pods=10", want: v1.Amounts{GPU: 8, Pods: 10}},
		{in: "", wantErr: true},
		{in: "cpu", wantErr: true},
		{in: "cpu=", wantErr: true},
		{in: "cpu=1,cpu=2", wantErr: true},
		{in: "disk=1Gi", wantErr: true},
		{in: "cpu=lots", wantErr: true},
		{in: "cpu=-1", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseCapacity(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("ParseCapacity(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no pods", Options{Capacity: v1.Amounts{MilliCPU: 1000}}},
		{"negative cpu", Options{Capacity: v1.Amounts{MilliCPU: -1, Pods: 1}}},
		{"negative duration", Options{Capacity: v1.Amounts{Pods: 1}, TaskDuration: -time.Second}},
		{"fail rate above 1", Options{Capacity: v1.Amounts{Pods: 1}, FailRate: 1.5}},
	}
	for _, tc := range tests {
		if _, err := New(tc.opts); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, tc.opts)
		}
	}
}
