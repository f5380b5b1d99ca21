package raftstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// fsmHarness applies commands to a State through the real log-entry path
// (encode, batch envelope, decode), without Raft.
type fsmHarness struct {
	t   *testing.T
	s   *State
	idx uint64
	now time.Time
}

func newHarness(t *testing.T) *fsmHarness {
	t.Helper()
	return &fsmHarness{t: t, s: NewState(), now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// applyAll applies cmds as one log entry and returns their results.
func (h *fsmHarness) applyAll(cmds ...Command) []Result {
	h.t.Helper()
	raws := make([]json.RawMessage, len(cmds))
	for i := range cmds {
		c := cmds[i]
		if c.Version == 0 {
			c.Version = CommandVersion
		}
		if c.At.IsZero() {
			h.now = h.now.Add(time.Second)
			c.At = h.now
		}
		raw, err := encodeCommand(&c)
		if err != nil {
			h.t.Fatal(err)
		}
		raws[i] = raw
	}
	h.idx++
	res := h.s.applyLog(h.idx, packEntry(encodeBatch(raws)))
	out, ok := res.([]Result)
	if !ok {
		h.t.Fatalf("apply: %v", res)
	}
	checkInvariants(h.t, h.s)
	return out
}

func (h *fsmHarness) apply(c Command) Result {
	h.t.Helper()
	return h.applyAll(c)[0]
}

// must applies c and fails the test on a refusal.
func (h *fsmHarness) must(c Command) Result {
	h.t.Helper()
	r := h.apply(c)
	if r.Err != nil {
		h.t.Fatalf("%s: %v", c.Type, r.Err)
	}
	return r
}

func (h *fsmHarness) exec(name string) v1.Execution {
	h.t.Helper()
	e, ok := h.s.Execution(key(name))
	if !ok {
		h.t.Fatalf("no execution %s", name)
	}
	return e
}

func (h *fsmHarness) cluster(name string) v1.Cluster {
	h.t.Helper()
	c, ok := h.s.Cluster(name)
	if !ok {
		h.t.Fatalf("no cluster %s", name)
	}
	return c
}

// Command builders. Executions live in project "p", domain "d" unless the
// name says otherwise.

func key(name string) v1.ExecutionKey { return v1.ExecutionKey{Project: "p", Domain: "d", Name: name} }

func spec(name string) v1.ExecutionSpec {
	s := v1.ExecutionSpec{Project: "p", Domain: "d", Name: name, Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{
		{ID: "a", Image: "busybox", Command: []string{"true"}},
		{ID: "b", Image: "busybox", DependsOn: []string{"a"}},
	}}}
	s.Default()
	return s
}

func submit(s v1.ExecutionSpec) Command {
	return Command{Type: CmdSubmit, Submit: &SubmitCmd{Spec: s}}
}

func register(name string) Command {
	c := v1.ClusterSpec{Name: name, Weight: 1, Labels: map[string]string{"zone": "a"}}
	return Command{Type: CmdRegisterCluster, Cluster: &c}
}

func heartbeat(name string) Command {
	return Command{Type: CmdHeartbeat, Name: name, Heartbeat: &v1.Heartbeat{
		AgentVersion: "v1", Capacity: v1.Capacity{Free: v1.Amounts{MilliCPU: 4000, Pods: 10}},
	}}
}

func assign(name, cluster string, attempt int) Command {
	return Command{Type: CmdAssign, Assign: &AssignCmd{Key: key(name), Cluster: cluster, Attempt: attempt}}
}

func report(name, cluster string, attempt int, phase v1.ExecutionPhase) Command {
	return Command{Type: CmdReport, Report: &ReportCmd{Cluster: cluster, Report: v1.StatusReport{
		ExecutionKey: key(name), Attempt: attempt, Phase: phase,
	}}}
}

func requeue(name string, attempt int, reason string) Command {
	return Command{Type: CmdRequeue, Requeue: &RequeueCmd{Key: key(name), Attempt: attempt, Reason: reason}}
}

func cancel(name string) Command {
	k := key(name)
	return Command{Type: CmdCancel, Key: &k}
}

func named(t CommandType, name string) Command { return Command{Type: t, Name: name} }

// readyCluster registers a cluster and makes it Ready with a heartbeat.
func readyCluster(name string) []Command { return []Command{register(name), heartbeat(name)} }

// checkInvariants recomputes every index and derived field from the
// executions and compares them with what State maintains incrementally.
func checkInvariants(t *testing.T, s *State) {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]string, 0, len(s.execs))
	phases := map[v1.ExecutionPhase][]string{}
	projects := map[string][]string{}
	clusters := map[string][]string{}
	live := map[string][]string{}
	var queue []queueItem
	assigned := []assignedItem{}
	for k, e := range s.execs {
		if k != e.Key().String() {
			t.Fatalf("execution stored under %s has key %s", k, e.Key())
		}
		keys = append(keys, k)
		phases[e.Phase] = append(phases[e.Phase], k)
		projects[e.Project] = append(projects[e.Project], k)
		if e.Cluster != "" {
			clusters[e.Cluster] = append(clusters[e.Cluster], k)
		}
		if e.Phase.OnCluster() {
			live[e.Cluster] = append(live[e.Cluster], k)
		}
		if e.Phase == v1.PhaseQueued {
			queue = append(queue, queueItem{e.Tier.Rank(), e.Seq, k})
		}
		if e.Phase == v1.PhaseAssigned {
			assigned = append(assigned, assignedItem{AssignedAt(e).UnixNano(), k})
		}
	}
	sort.Strings(keys)
	same := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("index %s: got %v, want %v", what, got, want)
		}
	}
	same("all", s.all.All(), keys)
	check := func(what string, idx map[string]*sortedSet[string], want map[string][]string) {
		t.Helper()
		got := map[string][]string{}
		for k, set := range idx {
			got[k] = set.All()
		}
		for _, v := range want {
			sort.Strings(v)
		}
		same(what, got, want)
	}
	phaseIdx := map[string]*sortedSet[string]{}
	for p, set := range s.byPhase {
		phaseIdx[string(p)] = set
	}
	phaseWant := map[string][]string{}
	for p, v := range phases {
		phaseWant[string(p)] = v
	}
	check("byPhase", phaseIdx, phaseWant)
	projectCounts := map[string]int{}
	for p, keys := range projects {
		projectCounts[p] = len(keys)
		var inRange []string
		s.projectKeys(p).Ascend("", false, func(k string) bool { inRange = append(inRange, k); return true })
		sort.Strings(keys)
		same("keys of project "+p, inRange, keys)
	}
	same("projects", s.projects, projectCounts)
	checkInputTable(t, s)
	check("byCluster", s.byCluster, clusters)
	check("live", s.live, live)
	sort.Slice(queue, func(i, j int) bool { return compareQueueItems(queue[i], queue[j]) < 0 })
	if queue == nil {
		queue = []queueItem{}
	}
	same("queue", s.queue.All(), queue)
	sort.Slice(assigned, func(i, j int) bool { return compareAssigned(assigned[i], assigned[j]) < 0 })
	same("assignedByTime", s.assignedByTime.All(), assigned)
	for name, c := range s.clusters {
		if c.Running != len(live[name]) {
			t.Fatalf("cluster %s: Running %d, %d executions on it", name, c.Running, len(live[name]))
		}
		if c.State == v1.ClusterDraining && c.Running == 0 {
			t.Fatalf("cluster %s: Draining with nothing running", name)
		}
	}
	for name := range live {
		if _, ok := s.clusters[name]; !ok {
			t.Fatalf("executions on unknown cluster %s", name)
		}
	}
}

// stateDump is everything State holds, indexes included, in comparable form.
type stateDump struct {
	Execs      map[string]*v1.Execution
	Clusters   map[string]*v1.Cluster
	All        []string
	ByPhase    map[v1.ExecutionPhase][]string
	Projects   map[string]int
	ByCluster  map[string][]string
	Live       map[string][]string
	Queue      []queueItem
	Seq        uint64
	Revisions  map[string]uint64
	RevCounter uint64
	Members    map[string]string
	Applied    uint64
}

func dumpState(s *State) stateDump {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sets := func(m map[string]*sortedSet[string]) map[string][]string {
		out := map[string][]string{}
		for k, v := range m {
			out[k] = v.All()
		}
		return out
	}
	d := stateDump{
		Execs: map[string]*v1.Execution{}, Clusters: map[string]*v1.Cluster{},
		All: s.all.All(), ByPhase: map[v1.ExecutionPhase][]string{},
		Projects: maps.Clone(s.projects), ByCluster: sets(s.byCluster), Live: sets(s.live),
		Queue: s.queue.All(), Seq: s.seq, Revisions: s.revisions, RevCounter: s.revCounter,
		Members: s.members, Applied: s.applied,
	}
	for k, e := range s.execs {
		d.Execs[k] = cloneExecution(e)
	}
	for k, c := range s.clusters {
		d.Clusters[k] = cloneCluster(c)
	}
	for p, set := range s.byPhase {
		d.ByPhase[p] = set.All()
	}
	return d
}

// diffDumps describes the first difference between two dumps, or "".
func diffDumps(a, b stateDump) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			ja, _ := json.Marshal(va.Field(i).Interface())
			jb, _ := json.Marshal(vb.Field(i).Interface())
			return fmt.Sprintf("%s differs:\n%.2000s\n%.2000s", va.Type().Field(i).Name, ja, jb)
		}
	}
	return ""
}

// mustSnapshot captures s for a test, released when the test ends.
func mustSnapshot(t testing.TB, s *State) *stateSnapshot {
	t.Helper()
	snap, err := s.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(snap.Release)
	return snap
}

// checkInputTable checks the shared input maps against the executions: each
// execution with inputs holds the table's map equal to them, and each
// entry's count is the number of executions that hold it.
func checkInputTable(t *testing.T, s *State) {
	t.Helper()
	holders := map[*sharedInputs]int{}
	for k, e := range s.execs {
		if e.Inputs == nil {
			continue
		}
		if len(e.Inputs) == 0 {
			t.Fatalf("%s holds an empty, non-nil input map", k)
		}
		var found *sharedInputs
		for _, entry := range s.inputs.buckets[s.inputs.hash(e.Inputs)] {
			if maps.Equal(entry.m, e.Inputs) {
				found = entry
			}
		}
		if found == nil || reflect.ValueOf(found.m).UnsafePointer() != reflect.ValueOf(e.Inputs).UnsafePointer() {
			t.Fatalf("%s does not hold the table's map of its inputs %v", k, e.Inputs)
		}
		holders[found]++
	}
	n := 0
	for h, b := range s.inputs.buckets {
		for _, entry := range b {
			n++
			if s.inputs.hash(entry.m) != h {
				t.Fatalf("input map %v in the wrong bucket", entry.m)
			}
			if entry.refs != holders[entry] {
				t.Fatalf("input map %v counts %d holders, %d executions hold it", entry.m, entry.refs, holders[entry])
			}
		}
	}
	if n != len(holders) {
		t.Fatalf("the table holds %d input maps, executions hold %d", n, len(holders))
	}
}
