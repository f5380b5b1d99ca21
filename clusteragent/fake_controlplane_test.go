package clusteragent_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/federation/client"
)

// fakeControlPlane plays the federation's side of the agent protocol in
// memory: a registered cluster, its assignment list with a revision that
// long polls wait on, and report verdicts fenced by attempt.
type fakeControlPlane struct {
	mu         sync.Mutex
	changed    chan struct{} // closed and replaced when the revision moves
	registered bool
	failures   map[string]error // call name ("heartbeat", ...) or "all" → error returned
	rev        uint64
	execs      map[v1.ExecutionKey]*fakeExec
	// verdict, when set, overrides the verdict of a report.
	verdict  func(v1.StatusReport) (v1.ReportVerdict, bool)
	accepted []v1.StatusReport
	reached  map[string]int // calls that got past the failures
	attempts map[string]int // every call, failed or not
}

type fakeExec struct {
	spec    v1.ExecutionSpec
	attempt int
	phase   v1.ExecutionPhase
}

var _ clusteragent.ControlPlane = (*fakeControlPlane)(nil)

func newFakeControlPlane() *fakeControlPlane {
	return &fakeControlPlane{
		changed:    make(chan struct{}),
		registered: true,
		failures:   map[string]error{},
		execs:      map[v1.ExecutionKey]*fakeExec{},
		reached:    map[string]int{},
		attempts:   map[string]int{},
	}
}

// errDown stands for a control plane that does not answer.
var errDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

func (f *fakeControlPlane) fail(call string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.failures, call)
		return
	}
	f.failures[call] = err
}

func (f *fakeControlPlane) setRegistered(ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registered = ok
}

func (f *fakeControlPlane) setVerdict(v func(v1.StatusReport) (v1.ReportVerdict, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verdict = v
}

// bump moves the revision and wakes long polls. f.mu is held.
func (f *fakeControlPlane) bump() {
	f.rev++
	close(f.changed)
	f.changed = make(chan struct{})
}

// assign puts an execution on the cluster, or moves it to a new attempt.
func (f *fakeControlPlane) assign(spec v1.ExecutionSpec, attempt int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs[spec.Key()] = &fakeExec{spec: spec, attempt: attempt, phase: v1.PhaseAssigned}
	f.bump()
}

// cancel moves an execution to Aborting.
func (f *fakeControlPlane) cancel(k v1.ExecutionKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs[k].phase = v1.PhaseAborting
	f.bump()
}

// resend bumps the revision without changing the list.
func (f *fakeControlPlane) resend() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bump()
}

func (f *fakeControlPlane) phase(k v1.ExecutionKey) v1.ExecutionPhase {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.execs[k]; ok {
		return e.phase
	}
	return ""
}

func (f *fakeControlPlane) acceptedReports() []v1.StatusReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]v1.StatusReport(nil), f.accepted...)
}

func (f *fakeControlPlane) reachedCalls(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reached[call]
}

func (f *fakeControlPlane) attemptedCalls(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[call]
}

// enter returns the configured failure of call, or counts it as reached.
func (f *fakeControlPlane) enter(call string) error {
	f.attempts[call]++
	if err := f.failures["all"]; err != nil {
		return err
	}
	if err := f.failures[call]; err != nil {
		return err
	}
	if !f.registered {
		return &client.APIError{Status: http.StatusNotFound, Code: v1.CodeNotFound, Message: "cluster not found"}
	}
	f.reached[call]++
	return nil
}

func (f *fakeControlPlane) Heartbeat(_ context.Context, _ string, _ v1.Heartbeat) (v1.HeartbeatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("heartbeat"); err != nil {
		return v1.HeartbeatResponse{}, err
	}
	return v1.HeartbeatResponse{State: v1.ClusterReady, Healthy: true, LeaseDuration: v1.Duration{Duration: time.Second}}, nil
}

func (f *fakeControlPlane) Assignments(ctx context.Context, _ string, after uint64, wait time.Duration) (v1.AssignmentList, error) {
	f.mu.Lock()
	if err := f.enter("assignments"); err != nil {
		f.mu.Unlock()
		return v1.AssignmentList{}, err
	}
	if f.rev <= after {
		ch := f.changed
		f.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v1.AssignmentList{}, ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	list := v1.AssignmentList{Revision: f.rev}
	for _, e := range f.execs {
		if e.phase.OnCluster() {
			list.Items = append(list.Items, v1.Assignment{ExecutionSpec: e.spec, Attempt: e.attempt, Phase: e.phase})
		}
	}
	return list, nil
}

func (f *fakeControlPlane) Report(_ context.Context, _ string, batch v1.ReportBatch) (v1.ReportBatchResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("report"); err != nil {
		return v1.ReportBatchResponse{}, err
	}
	var resp v1.ReportBatchResponse
	for _, r := range batch.Reports {
		res := v1.ReportResult{ExecutionKey: r.ExecutionKey, Attempt: r.Attempt}
		e, ok := f.execs[r.ExecutionKey]
		switch {
		case f.verdict != nil && func() bool { v, set := f.verdict(r); res.Verdict = v; return set }():
		case !ok:
			res.Verdict = v1.VerdictUnknown
		case e.attempt != r.Attempt || e.phase.Terminal():
			res.Verdict = v1.VerdictStale
		default:
			res.Verdict = v1.VerdictAccepted
		}
		if res.Verdict == v1.VerdictAccepted && ok {
			f.accepted = append(f.accepted, r)
			if r.Phase != e.phase && (r.Phase.Terminal() || e.phase == v1.PhaseAssigned) {
				e.phase = r.Phase
				f.bump()
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
