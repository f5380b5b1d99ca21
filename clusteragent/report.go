package clusteragent

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

const (
	// maxReportBatch bounds one report request, well under the server's
	// body limit even for large workflows.
	maxReportBatch = 200
	// reportCoalesce is the least time between two report rounds woken by
	// changes: a busy cluster then sends fewer, larger batches.
	reportCoalesce = 100 * time.Millisecond
)

// reportLoop reports on every change of the backend, and every
// ReportInterval to retry what was not acknowledged. While the control plane
// is away it backs off; reports accumulate (the latest state of each
// workflow) and go out when it returns.
func (a *Agent) reportLoop(ctx context.Context) {
	bo := newBackoff(a.cfg.BackoffBase, a.cfg.BackoffMax)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for ctx.Err() == nil {
		last := time.Now()
		err := a.reportOnce(ctx)
		wait := a.cfg.ReportInterval
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("report failed; keeping the reports to send again", "err", err, "pending", a.reports.pendingCount())
			wait = bo.next(err)
		} else {
			bo.reset()
		}
		timer.Reset(wait)
		changes := a.backend.Changes()
		if err != nil {
			changes = nil // wait out the backoff whatever changes
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			continue
		case <-changes:
		case <-a.kickReport:
		}
		timer.Stop() // since Go 1.23 no stale tick survives a Stop or Reset
		sleep(ctx, reportCoalesce-time.Since(last))
	}
}

// reportOnce sends every report not yet accepted and acts on the verdicts.
func (a *Agent) reportOnce(ctx context.Context) error {
	states, err := a.backend.List(ctx)
	if err != nil {
		a.m.sessionErrors.WithLabelValues(callBackend).Inc()
		return fmt.Errorf("list workflows: %w", err)
	}
	byPhase := map[v1.ExecutionPhase]int{}
	for _, s := range states {
		byPhase[s.Phase]++
	}
	a.m.setWorkflows(byPhase)
	batch, done := a.reports.collect(states, time.Now())
	// The deletes go to gcLoop: the federation times a workflow's phase by
	// when the report reaches it, so reports must not wait for them.
	defer func() { a.garbage.add(done) }()
	for chunk := range slices.Chunk(batch, maxReportBatch) {
		reports := make([]v1.StatusReport, len(chunk))
		for i, p := range chunk {
			reports[i] = p.report
		}
		resp, err := call(ctx, a, a.reportBreaker, a.cfg.CallTimeout, func(ctx context.Context) (v1.ReportBatchResponse, error) {
			return a.cp.Report(ctx, a.cfg.Cluster, v1.ReportBatch{Reports: reports})
		})
		if err != nil {
			return err
		}
		done = append(done, a.applyVerdicts(ctx, chunk, resp.Results)...)
	}
	return nil
}

// applyVerdicts acts on the control plane's answers: an accepted report is
// acknowledged (and a final one lets the workflow go: it is returned, for
// collectGarbage); a stale or unknown one means the copy must not run: it
// is aborted and deleted. A report without a verdict stays pending.
func (a *Agent) applyVerdicts(ctx context.Context, sent []pendingReport, results []v1.ReportResult) (finished []wfID) {
	byID := make(map[wfID]v1.ReportVerdict, len(results))
	for _, r := range results {
		byID[wfID{r.ExecutionKey, r.Attempt}] = r.Verdict
	}
	for _, p := range sent {
		id := wfID{p.report.ExecutionKey, p.report.Attempt}
		verdict, ok := byID[id]
		if !ok {
			a.log.Warn("no verdict on a report; sending it again later", "execution", id.key.String(), "attempt", id.attempt)
			continue
		}
		a.m.reports.WithLabelValues(string(verdict)).Inc()
		switch verdict {
		case v1.VerdictAccepted:
			a.reports.ack(id, p)
			if p.report.Phase.Terminal() {
				finished = append(finished, id)
			}
		case v1.VerdictStale, v1.VerdictUnknown:
			a.log.Warn("the federation refused this copy; aborting and deleting it", "execution", id.key.String(), "attempt", id.attempt, "verdict", verdict)
			a.mu.Lock()
			err := a.abortAndDelete(ctx, id)
			if err == nil {
				a.tombstones[id] = struct{}{}
				a.reports.forget(id)
			}
			a.mu.Unlock()
			if err != nil {
				a.log.Error("abort refused workflow", "execution", id.key.String(), "attempt", id.attempt, "err", err)
			}
		default:
			a.log.Warn("unknown report verdict; sending the report again later", "execution", id.key.String(), "attempt", id.attempt, "verdict", verdict)
		}
	}
	return finished
}

// gcLoop deletes the finished workflows queued in a.garbage until ctx
// ends.
func (a *Agent) gcLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.garbage.wake:
		}
		a.collectGarbage(ctx, a.garbage.take())
	}
}

// garbageQueue is a set of workflows to delete, with a coalesced signal.
type garbageQueue struct {
	mu   sync.Mutex
	ids  map[wfID]struct{}
	wake chan struct{}
}

func newGarbageQueue() *garbageQueue {
	return &garbageQueue{ids: map[wfID]struct{}{}, wake: make(chan struct{}, 1)}
}

// add queues ids (once each) and wakes gcLoop.
func (q *garbageQueue) add(ids []wfID) {
	if len(ids) == 0 {
		return
	}
	q.mu.Lock()
	for _, id := range ids {
		q.ids[id] = struct{}{}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns and clears what is queued. A workflow whose delete fails is
// queued again by the next report round (its final state is still acked).
func (q *garbageQueue) take() []wfID {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]wfID, 0, len(q.ids))
	for id := range q.ids {
		ids = append(ids, id)
	}
	clear(q.ids)
	return ids
}

// collectGarbage deletes finished workflows whose final report was
// accepted: the federation holds their record now.
func (a *Agent) collectGarbage(ctx context.Context, ids []wfID) {
	if len(ids) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	deleted := make([]bool, len(ids))
	parallel(len(ids), func(i int) {
		id := ids[i]
		if err := a.backend.Delete(ctx, id.key, id.attempt); err != nil {
			a.m.sessionErrors.WithLabelValues(callBackend).Inc()
			a.log.Warn("delete finished workflow; retrying later", "execution", id.key.String(), "attempt", id.attempt, "err", err)
			return
		}
		deleted[i] = true
	})
	for i, id := range ids {
		if deleted[i] {
			a.tombstones[id] = struct{}{}
			a.reports.forget(id)
		}
	}
}

// backendParallelism bounds the backend calls the session makes at once
// for one batch (starts, deletes). One at a time, a thousand workflows
// assigned or finished together wait for a thousand round trips to the
// member's API server in a row, and the reports and assignments behind
// them wait too.
const backendParallelism = 8

// parallel calls f(0), ..., f(n-1), at most backendParallelism at once, and
// waits for all. f must be safe to call concurrently.
func parallel(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	sem := make(chan struct{}, backendParallelism)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// pendingReport is a report not yet accepted, with the fingerprint of the
// state it carries.
type pendingReport struct {
	report v1.StatusReport
	fp     string
	// synthetic reports are not backed by a workflow of the backend.
	synthetic bool
}

// reportBuffer remembers, per workflow copy, the state last accepted and
// the report waiting to be.
type reportBuffer struct {
	mu      sync.Mutex
	acked   map[wfID]string
	pending map[wfID]pendingReport
	// fps caches each workflow's fingerprint by its state's Version.
	fps map[wfID]versionedFP
}

type versionedFP struct{ version, fp string }

func newReportBuffer() *reportBuffer {
	return &reportBuffer{acked: map[wfID]string{}, pending: map[wfID]pendingReport{}, fps: map[wfID]versionedFP{}}
}

// fingerprintOf is fingerprint(s), computed again only when s.Version
// changed (or is empty). The caller holds r.mu.
func (r *reportBuffer) fingerprintOf(id wfID, s WorkflowState) string {
	if s.Version == "" {
		return fingerprint(s)
	}
	if c, ok := r.fps[id]; ok && c.version == s.Version {
		return c.fp
	}
	fp := fingerprint(s)
	r.fps[id] = versionedFP{s.Version, fp}
	return fp
}

// collect turns the backend's states into the reports to send: each
// workflow whose state differs from the one last accepted, keeping the
// pending report (and its time) when the state is still the same. It also
// returns the finished workflows whose final state was accepted, which may
// be deleted.
func (r *reportBuffer) collect(states []WorkflowState, now time.Time) (batch []pendingReport, done []wfID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[wfID]bool, len(states))
	for _, s := range states {
		id := wfID{s.Key, s.Attempt}
		seen[id] = true
		fp := r.fingerprintOf(id, s)
		if r.acked[id] == fp {
			delete(r.pending, id)
			if s.Phase.Terminal() {
				done = append(done, id)
			}
			continue
		}
		if p, ok := r.pending[id]; ok && p.fp == fp {
			continue
		}
		r.pending[id] = pendingReport{fp: fp, report: v1.StatusReport{
			ExecutionKey: s.Key, Attempt: s.Attempt, Phase: s.Phase, Message: s.Message,
			Nodes: maps.Clone(s.Nodes), Outputs: maps.Clone(s.Outputs), At: now,
		}}
	}
	// A workflow that is gone needs no report: it was deleted as stale or
	// after its final report, or it is to be started again.
	for id, p := range r.pending {
		if !seen[id] && !p.synthetic {
			delete(r.pending, id)
		}
	}
	for id := range r.acked {
		if !seen[id] {
			delete(r.acked, id)
		}
	}
	for id := range r.fps {
		if !seen[id] {
			delete(r.fps, id)
		}
	}
	batch = slices.Collect(maps.Values(r.pending))
	slices.SortFunc(batch, func(x, y pendingReport) int {
		return cmp.Or(x.report.At.Compare(y.report.At), cmp.Compare(x.report.ExecutionKey.String(), y.report.ExecutionKey.String()),
			cmp.Compare(x.report.Attempt, y.report.Attempt))
	})
	return batch, done
}

// ack records that p was accepted; a newer pending report stays.
func (r *reportBuffer) ack(id wfID, p pendingReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !p.synthetic {
		r.acked[id] = p.fp
	}
	if cur, ok := r.pending[id]; ok && cur.fp == p.fp {
		delete(r.pending, id)
	}
}

// synthesize queues a report that no backend workflow stands behind.
func (r *reportBuffer) synthesize(rep v1.StatusReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := wfID{rep.ExecutionKey, rep.Attempt}
	if _, ok := r.pending[id]; ok {
		return
	}
	r.pending[id] = pendingReport{report: rep, fp: "synthetic/" + string(rep.Phase), synthetic: true}
}

// forget drops everything known of a copy that is gone.
func (r *reportBuffer) forget(id wfID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.acked, id)
	delete(r.pending, id)
	delete(r.fps, id)
}

func (r *reportBuffer) pendingCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// fingerprint identifies what a report of s would say, so that an unchanged
// workflow is not reported again. encoding/json sorts map keys; the digest
// keeps the memory per workflow small.
func fingerprint(s WorkflowState) string {
	b, err := json.Marshal(struct {
		Phase   v1.ExecutionPhase
		Message string
		Nodes   map[string]v1.NodeStatus
		Outputs map[string]string
	}{s.Phase, s.Message, s.Nodes, s.Outputs})
	if err != nil {
		// Every field is marshalable; fall back to reporting it each time.
		return fmt.Sprintf("unmarshalable %p", &s)
	}
	sum := sha256.Sum256(b)
	return string(sum[:])
}
