package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// DefaultMaxPlacementLag is the default bound on submissions not yet
// examined by the scheduler: about a hundred HTTP clients' worth plus a
// round's arrivals at full speed, so steady load never meets it. More in
// flight adds no throughput, only queueing: in the scale benchmark (1,000
// clusters) raising the bound from 500 to 5,000 left submissions per
// second unchanged and roughly tripled the p99 from submit to assigned.
const DefaultMaxPlacementLag = 500

// ErrOverloaded marks a submission refused because placement is behind.
var ErrOverloaded = errors.New("placement is behind")

// admission is backpressure on the leader's submit path. A control plane
// that acknowledges submissions faster than it places them only grows a
// backlog, and with it the time from submit to assigned of everything
// behind. So the placement lag is bounded: the submissions not yet
// examined by a scheduler round, whether committed already or still being
// committed. Over the bound, a submission waits briefly for the scheduler,
// then is refused with 429 and Retry-After, changing nothing.
//
// Committed submissions are counted by sequence number: a round records
// the newest submission its queue walk covered. A round that finds no
// cluster taking work counts everything as examined, so a full federation
// still accepts and queues submissions; only a scheduler that falls behind
// pushes back. Submissions being committed are counted from their
// admission to their commit: they are already in the pipeline ahead of
// the next ones. Waiting submissions are admitted in arrival order, so
// none waits out its time while later ones get in.
type admission struct {
	bound uint64
	wait  time.Duration

	mu sync.Mutex
	// seen is the newest submission a round examined; proposing counts
	// the submissions admitted and not yet committed or failed. changed is
	// closed and replaced when seen moves or proposing drops.
	seen      uint64
	proposing uint64
	changed   chan struct{}
	// waiting holds the waiting submissions in arrival order; only the
	// first may be admitted.
	waiting []*admissionWaiter
}

type admissionWaiter struct{ n int }

func newAdmission(bound int, wait time.Duration) *admission {
	return &admission{bound: uint64(max(bound, 0)), wait: wait, changed: make(chan struct{})}
}

// examined records that a scheduler round examined every submission up to
// sequence number seq.
func (a *admission) examined(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq > a.seen {
		a.seen = seq
		a.signalLocked()
	}
}

func (a *admission) signalLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// lag returns how many submissions no round has examined: committed ones
// and ones being committed.
func (a *admission) lag(st *raftstore.State) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lagLocked(st)
}

func (a *admission) lagLocked(st *raftstore.State) uint64 {
	lag := a.proposing
	if seq := st.LastSeq(); seq > a.seen {
		lag += seq - a.seen
	}
	return lag
}

// overloadError is a refused submission: how far behind placement is.
type overloadError struct {
	lag, bound uint64
	retryAfter time.Duration
}

func (e *overloadError) Error() string {
	return fmt.Sprintf("%v: %d submissions are not yet examined by the scheduler (bound %d); retry after %s",
		ErrOverloaded, e.lag, e.bound, e.retryAfter)
}

func (e *overloadError) Unwrap() error { return ErrOverloaded }

// admit admits n submissions once the lag leaves room for them (or is
// zero: a batch larger than the bound still passes alone), waiting up to
// a.wait for the scheduler to catch up; it returns an *overloadError if it
// did not. The caller calls release once the submissions are committed or
// failed.
func (a *admission) admit(ctx context.Context, st *raftstore.State, n int) (release func(), err error) {
	if a.bound == 0 {
		return func() {}, nil
	}
	a.mu.Lock()
	if len(a.waiting) == 0 && a.fitsLocked(st, n) {
		return a.admitLocked(n), nil
	}
	w := &admissionWaiter{n: n}
	a.waiting = append(a.waiting, w)
	timer := time.NewTimer(a.wait)
	defer timer.Stop()
	for {
		if a.waiting[0] == w && a.fitsLocked(st, n) {
			a.waiting[0] = nil
			a.waiting = a.waiting[1:]
			// The next in line may fit too.
			a.signalLocked()
			return a.admitLocked(n), nil
		}
		changed := a.changed
		a.mu.Unlock()
		select {
		case <-changed:
			a.mu.Lock()
			continue
		case <-timer.C:
			err = &overloadError{bound: a.bound, retryAfter: time.Second}
		case <-ctx.Done():
			err = fmt.Errorf("wait for the scheduler: %w", ctx.Err())
		}
		a.mu.Lock()
		a.waiting = slices.DeleteFunc(a.waiting, func(x *admissionWaiter) bool { return x == w })
		a.signalLocked()
		if over, ok := err.(*overloadError); ok {
			over.lag = a.lagLocked(st)
		}
		a.mu.Unlock()
		return nil, err
	}
}

// fitsLocked reports whether n more submissions fit under the bound; a
// batch larger than the bound fits when nothing is in the way.
func (a *admission) fitsLocked(st *raftstore.State, n int) bool {
	lag := a.lagLocked(st)
	return lag == 0 || lag+uint64(n) <= a.bound
}

// admitLocked counts n submissions as being committed, unlocks, and
// returns their release.
func (a *admission) admitLocked(n int) func() {
	a.proposing += uint64(n)
	a.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { a.done(n) }) }
}

// done counts n admitted submissions as no longer being committed: they
// are in the state now, or failed.
func (a *admission) done(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.proposing -= uint64(n)
	a.signalLocked()
}

// lagGauge exports the placement lag while this replica leads (a
// follower's scheduler examines nothing).
func (a *admission) lagGauge(node *raftstore.Node) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "federation_placement_lag",
		Help: "Submissions not yet examined by a scheduler round, committed or being committed (leader only); admission control bounds it.",
	}, func() float64 {
		if !node.IsLeader() {
			return 0
		}
		return float64(a.lag(node.State()))
	})
}

// Admit applies the submit path's admission control to n submissions made
// in process (benchmarks): when they may go ahead it returns a release to
// call once they are committed (or failed), after waiting for the
// scheduler as an HTTP submission would; else an error wrapping
// ErrOverloaded.
func (s *Server) Admit(ctx context.Context, n int) (release func(), err error) {
	return s.adm.admit(ctx, s.node.State(), n)
}

// PlacementLag returns how many submissions, committed or being committed,
// no scheduler round of this replica has examined yet; it means something
// on the leader only.
func (s *Server) PlacementLag() int {
	return int(s.adm.lag(s.node.State()))
}

// writeOverloaded answers a submission refused by admission control.
func (s *Server) writeOverloaded(w http.ResponseWriter, r *http.Request, e *overloadError) {
	s.log.Info("submission refused: placement is behind", "path", r.URL.Path, "lag", e.lag, "bound", e.bound)
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.retryAfter)))
	writeJSON(w, http.StatusTooManyRequests, errorBody(v1.CodeRateLimited, e.Error()))
}
