package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/raftstore"
)

// admissionServer is a leader's service over a real Raft node and State,
// with no loops running: the test plays the scheduler.
func admissionServer(t *testing.T, bound int, wait time.Duration) (*Server, *raftstore.Node) {
	t.Helper()
	node := soloLeader(t)
	cfg := testConfig()
	cfg.MaxPlacementLag, cfg.AdmissionWait = bound, wait
	srv, err := New(cfg, node)
	if err != nil {
		t.Fatal(err)
	}
	return srv, node
}

func postSpec(t *testing.T, srv *Server, sp v1.ExecutionSpec) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, v1.APIPrefix+"/executions", bytes.NewReader(body)))
	return w
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int, what string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("%s: status %d, want %d: %s", what, w.Code, status, w.Body)
	}
}

// TestAdmissionRefusesOverLagAndChangesNothing: with the scheduler not
// examining anything, submissions pass until the lag reaches the bound;
// the next one waits, then gets 429 with Retry-After and an API error body,
// and nothing is committed. A resubmission of an existing execution still
// answers 200, and once a round examined the queue submissions pass again.
func TestAdmissionRefusesOverLagAndChangesNothing(t *testing.T) {
	const bound = 3
	wait := 150 * time.Millisecond
	srv, node := admissionServer(t, bound, wait)
	st := node.State()
	for i := range bound {
		wantStatus(t, postSpec(t, srv, spec("p", fmt.Sprintf("ok-%d", i))), http.StatusCreated, fmt.Sprintf("submission %d", i))
	}
	if lag := srv.adm.lag(st); lag != bound {
		t.Fatalf("lag %d after %d unexamined submissions", lag, bound)
	}
	seq, applied := st.LastSeq(), st.AppliedIndex()

	start := time.Now()
	w := postSpec(t, srv, spec("p", "over"))
	waited := time.Since(start)
	wantStatus(t, w, http.StatusTooManyRequests, "submission over the bound")
	if waited < wait {
		t.Errorf("refused after %s: want it to wait %s for the scheduler first", waited, wait)
	}
	if ra := w.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	var body v1.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	if body.Error.Code != v1.CodeRateLimited || !strings.Contains(body.Error.Message, "placement is behind") ||
		!strings.Contains(body.Error.Message, fmt.Sprintf("%d submissions", bound)) {
		t.Errorf("error body %+v: want code %s and a message that says placement is behind by %d", body, v1.CodeRateLimited, bound)
	}
	if _, ok := st.Execution(v1.ExecutionKey{Project: "p", Domain: "production", Name: "over"}); ok {
		t.Fatal("the refused submission was committed")
	}
	if st.LastSeq() != seq || st.AppliedIndex() != applied {
		t.Fatalf("a refused submission changed the state: seq %d→%d, applied %d→%d", seq, st.LastSeq(), applied, st.AppliedIndex())
	}

	// Idempotent resubmission needs no log entry and is never refused.
	wantStatus(t, postSpec(t, srv, spec("p", "ok-0")), http.StatusOK, "resubmission while over the bound")

	// A submission that waits is let through as soon as a round catches up.
	done := make(chan *httptest.ResponseRecorder, 1)
	srv.adm.wait = 10 * time.Second
	go func() { done <- postSpec(t, srv, spec("p", "waits")) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case w := <-done:
		t.Fatalf("submission over the bound answered %d without waiting", w.Code)
	default:
	}
	srv.adm.examined(st.LastSeq())
	select {
	case w := <-done:
		wantStatus(t, w, http.StatusCreated, "submission admitted when the scheduler caught up")
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting submission was not admitted after the scheduler caught up")
	}
	if lag := srv.adm.lag(st); lag != 1 {
		t.Fatalf("lag %d, want 1: the one admitted after the round", lag)
	}
}

// TestAdmissionFollowsTheRealScheduler: rounds of the real scheduler move
// the lag. With no cluster taking work a round counts everything as
// examined, so a full federation still accepts and queues submissions;
// with a Ready cluster a round examines and places the queue.
func TestAdmissionFollowsTheRealScheduler(t *testing.T) {
	const bound = 2
	srv, node := admissionServer(t, bound, 50*time.Millisecond)
	st := node.State()
	sc := newScheduler(srv)
	ctx := ctxT(t)
	for i := range 3 * bound {
		sp := spec("p", fmt.Sprintf("q-%d", i))
		applyOK(t, node, raftstore.Command{Type: raftstore.CmdSubmit, Submit: &raftstore.SubmitCmd{Spec: sp}})
	}
	wantStatus(t, postSpec(t, srv, spec("p", "before-round")), http.StatusTooManyRequests, "submission behind an unexamined backlog")

	sc.round(ctx) // no clusters: nothing takes work
	if lag := srv.adm.lag(st); lag != 0 {
		t.Fatalf("lag %d after a round with no cluster taking work, want 0", lag)
	}
	for i := range bound {
		wantStatus(t, postSpec(t, srv, spec("p", fmt.Sprintf("full-%d", i))), http.StatusCreated, "submission to a full federation")
	}
	wantStatus(t, postSpec(t, srv, spec("p", "over")), http.StatusTooManyRequests, "submission over the bound")
	if n := st.QueueLen(); n != 4*bound {
		t.Fatalf("%d queued, want %d", n, 4*bound)
	}

	registerReady(t, node, "east")
	applyOK(t, node, raftstore.Command{Type: raftstore.CmdHeartbeat, Name: "east", Heartbeat: &v1.Heartbeat{AgentVersion: "test", Capacity: ampleCapacity()}})
	sc.round(ctx)
	sc.wg.Wait()
	if lag := srv.adm.lag(st); lag != 0 {
		t.Fatalf("lag %d after a round that walked the queue, want 0", lag)
	}
	if n := st.QueueLen(); n != 0 {
		t.Fatalf("%d still queued after the round, want all placed", n)
	}
	wantStatus(t, postSpec(t, srv, spec("p", "after-round")), http.StatusCreated, "submission after the round")
}

// TestAdmissionOff: a bound of zero never holds anything back.
func TestAdmissionOff(t *testing.T) {
	srv, _ := admissionServer(t, 0, time.Second)
	for i := range 20 {
		wantStatus(t, postSpec(t, srv, spec("p", fmt.Sprintf("n-%d", i))), http.StatusCreated, "submission without a bound")
	}
}

func TestAdmissionConfig(t *testing.T) {
	for _, tc := range []struct {
		bound int
		wait  time.Duration
		ok    bool
	}{{0, 0, true}, {10, time.Second, true}, {-1, time.Second, false}, {10, 0, false}} {
		cfg := testConfig()
		cfg.MaxPlacementLag, cfg.AdmissionWait = tc.bound, tc.wait
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("bound %d, wait %s: Validate() = %v, want ok=%v", tc.bound, tc.wait, err, tc.ok)
		}
	}
}

// TestAdmissionCountsSubmissionsBeingCommitted: admitted submissions count
// against the bound until they are committed (release), and a batch larger
// than the bound passes when nothing else is in the way.
func TestAdmissionCountsSubmissionsBeingCommitted(t *testing.T) {
	srv, node := admissionServer(t, 3, 50*time.Millisecond)
	st := node.State()
	ctx := ctxT(t)
	release, err := srv.Admit(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if lag := srv.PlacementLag(); lag != 2 {
		t.Fatalf("lag %d with two being committed, want 2", lag)
	}
	if _, err := srv.Admit(ctx, 2); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("admitting two more over a bound of 3: %v, want ErrOverloaded", err)
	}
	// Released while another waits: the waiter gets in.
	got := make(chan error, 1)
	go func() {
		r, err := srv.adm.admit(ctx, st, 2)
		if err == nil {
			r()
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	release()
	release() // idempotent
	if err := <-got; err != nil {
		t.Fatalf("admission after the release: %v", err)
	}
	if lag := srv.PlacementLag(); lag != 0 {
		t.Fatalf("lag %d after every admitted batch was released uncommitted, want 0", lag)
	}
	big, err := srv.Admit(ctx, 10)
	if err != nil {
		t.Fatalf("a batch over the bound with nothing in the way: %v", err)
	}
	big()
}

// TestAdmissionIsFirstComeFirstServed: waiting submissions are admitted in
// arrival order, and a newcomer does not get ahead of them when room
// appears.
func TestAdmissionIsFirstComeFirstServed(t *testing.T) {
	srv, node := admissionServer(t, 1, 10*time.Second)
	st := node.State()
	ctx := ctxT(t)
	hold, err := srv.Admit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	releases := make(chan func(), 3)
	waitFor := func(n int) {
		waitUntil(t, 5*time.Second, fmt.Sprintf("%d waiting", n), func() bool {
			srv.adm.mu.Lock()
			defer srv.adm.mu.Unlock()
			return len(srv.adm.waiting) == n
		})
	}
	for i, name := range []string{"first", "second"} {
		go func() {
			r, err := srv.adm.admit(ctx, st, 1)
			if err != nil {
				t.Error(err)
				return
			}
			order <- name
			releases <- r
		}()
		waitFor(i + 1)
	}
	hold()
	if got := <-order; got != "first" {
		t.Fatalf("admitted %s first", got)
	}
	// Room appears only when "first" is released; "second" waits before
	// a newcomer.
	go func() {
		r, err := srv.adm.admit(ctx, st, 1)
		if err != nil {
			t.Error(err)
			return
		}
		order <- "newcomer"
		releases <- r
	}()
	waitFor(2)
	(<-releases)()
	if got := <-order; got != "second" {
		t.Fatalf("admitted %s after the first was released, want second", got)
	}
	(<-releases)()
	if got := <-order; got != "newcomer" {
		t.Fatalf("admitted %s last, want the newcomer", got)
	}
	(<-releases)()
	if lag := srv.PlacementLag(); lag != 0 {
		t.Fatalf("lag %d after every release, want 0", lag)
	}
}
