package federation

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// spliceExecutionBefore is spliceExecution as it was before the plain
// status rendering: the submit answer must keep its bytes.
func spliceExecutionBefore(canonical []byte, ex *v1.Execution) ([]byte, bool) {
	if len(canonical) < 2 || canonical[len(canonical)-1] != '}' {
		return nil, false
	}
	st := executionStatus{
		SpecHash: ex.SpecHash, Phase: ex.Phase, Cluster: ex.Cluster, Attempt: ex.Attempt,
		Message: ex.Message, Reason: ex.Reason, CreatedAt: ex.CreatedAt, UpdatedAt: ex.UpdatedAt,
		Seq: ex.Seq, History: ex.History, Nodes: ex.Nodes, Outputs: ex.Outputs,
	}
	stream := fastJSON.BorrowStream(nil)
	defer fastJSON.ReturnStream(stream)
	stream.WriteVal(&st)
	tail := stream.Buffer()
	if stream.Error != nil || len(tail) < 2 || tail[0] != '{' {
		return nil, false
	}
	out := make([]byte, 0, len(canonical)+len(tail)+1)
	out = append(out, canonical[:len(canonical)-1]...)
	out = append(out, ',')
	out = append(out, tail[1:]...)
	return append(out, '\n'), true
}

var statusStrings = []string{
	"", "Queued", "Submitted", "east-1", "a b", "<b>", "&", "\"", `\`, "\n", "\b", "\x00", "\x7f", "é",
	"\u2028", "\xff", "0123456789abcdef0123456789abcdef", "~!@#$%^*()_+`-={}|[]:;',./?",
}

func statusTimes() []time.Time {
	at := time.Date(2026, 11, 30, 16, 0, 0, 123456789, time.UTC)
	return []time.Time{
		{}, at, at.Truncate(time.Second), at.Add(100 * time.Millisecond).Truncate(time.Millisecond),
		at.In(time.FixedZone("plus", 5*3600+30*60)), at.In(time.FixedZone("minus", -23*3600-59*60)),
		at.In(time.FixedZone("24h", 24*3600)), at.In(time.FixedZone("-24h", -24*3600)),
		at.In(time.FixedZone("100h", 100*3600)), at.In(time.FixedZone("seconds", 3600+17)),
		at.In(time.FixedZone("zero", 0)), at.Local(),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("east", -3600)),
	}
}

// fuzzStatus builds an execution's status from fuzz bytes.
func fuzzStatus(spec v1.ExecutionSpec, data []byte) *v1.Execution {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		c := data[0]
		data = data[1:]
		return int(c)
	}
	times := statusTimes()
	str := func() string { return statusStrings[next()%len(statusStrings)] }
	tm := func() time.Time { return times[next()%len(times)] }
	ex := &v1.Execution{
		ExecutionSpec: spec, SpecHash: str(), Phase: v1.ExecutionPhase(str()), Cluster: str(),
		Attempt: []int{0, 1, -1, math.MaxInt, math.MinInt}[next()%5], Message: str(), Reason: str(),
		CreatedAt: tm(), UpdatedAt: tm(), Seq: []uint64{0, 1, math.MaxUint64}[next()%3],
	}
	if n := next() % 5; n > 0 {
		ex.History = make([]v1.PhaseTransition, n-1) // empty, not nil, at n == 1
		for i := range ex.History {
			ex.History[i] = v1.PhaseTransition{Phase: v1.ExecutionPhase(str()), Cluster: str(), Attempt: next() - 128, Reason: str(), Message: str(), At: tm()}
		}
	}
	switch next() % 6 {
	case 1:
		ex.Nodes = map[string]v1.NodeStatus{}
	case 2:
		ex.Nodes = map[string]v1.NodeStatus{str(): {Phase: v1.NodeRunning, Message: str()}}
	case 3:
		ex.Outputs = map[string]string{}
	case 4:
		ex.Outputs = map[string]string{str(): str()}
	}
	return ex
}

// checkSplice fails unless spliceExecution answers what it answered
// before, and what json.Marshal renders when it takes the plain path.
func checkSplice(t *testing.T, canonical []byte, ex *v1.Execution) {
	t.Helper()
	got, ok := spliceExecution(canonical, ex)
	want, wantOK := spliceExecutionBefore(canonical, ex)
	if ok != wantOK || !bytes.Equal(got, want) {
		t.Fatalf("spliceExecution = %v\n%s\nbefore %v\n%s", ok, got, wantOK, want)
	}
	if _, plain := appendPlainStatus(nil, ex); plain {
		ref, err := json.Marshal(ex)
		if err != nil || !bytes.Equal(got, append(ref, '\n')) {
			t.Fatalf("plain status:\n%s\njson.Marshal (%v):\n%s", got, err, ref)
		}
	}
}

func spliceSpecs(t testing.TB) []v1.ExecutionSpec {
	var full v1.ExecutionSpec
	if err := json.Unmarshal([]byte(exampleSpecJSON), &full); err != nil {
		t.Fatal(err)
	}
	full.Default()
	return []v1.ExecutionSpec{full, readmeSpec("eta-<&>\u2028"), {}}
}

func TestSpliceExecutionKeepsItsBytes(t *testing.T) {
	specs := spliceSpecs(t)
	at := time.Date(2026, 11, 30, 16, 0, 0, 123456789, time.UTC)
	for _, spec := range specs {
		canonical := spec.Canonical()
		// What the FSM creates (applySubmit).
		ex := &v1.Execution{
			ExecutionSpec: spec, SpecHash: spec.Hash(), Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted,
			CreatedAt: at, UpdatedAt: at, Seq: 7,
			History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted, At: at}},
		}
		if _, plain := appendPlainStatus(nil, ex); !plain {
			t.Fatal("a new execution does not take the plain path")
		}
		checkSplice(t, canonical, ex)
		for _, s := range statusStrings {
			for _, tm := range statusTimes() {
				e := *ex
				e.Message, e.Cluster, e.CreatedAt = s, s, tm
				e.History = []v1.PhaseTransition{{Phase: v1.ExecutionPhase(s), At: tm}, {Reason: s, Message: s, At: at}}
				checkSplice(t, canonical, &e)
			}
		}
		for i := range 4096 {
			checkSplice(t, canonical, fuzzStatus(spec, []byte{byte(i), byte(i >> 3), byte(i * 7), byte(i >> 5), byte(i * 13), byte(i), byte(i >> 2), byte(i >> 4), byte(i * 3), byte(i * 5), byte(i >> 6), byte(i * 11), byte(i >> 1)}))
		}
	}
}

// FuzzSpliceExecution holds the plain status rendering to the one before
// it and to json.Marshal:
//
//	go test -run '^$' -fuzz FuzzSpliceExecution -fuzztime 60s ./federation/
func FuzzSpliceExecution(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28})
	f.Add(uint8(2), []byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0"))
	specs := spliceSpecs(f)
	canonicals := make([][]byte, len(specs))
	for i := range specs {
		canonicals[i] = specs[i].Canonical()
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		i := int(which) % len(specs)
		checkSplice(t, canonicals[i], fuzzStatus(specs[i], data))
	})
}

func TestWriteSubmitted(t *testing.T) {
	spec := spliceSpecs(t)[0]
	at := time.Date(2026, 11, 30, 16, 0, 0, 5, time.UTC)
	ex := &v1.Execution{ExecutionSpec: spec, SpecHash: spec.Hash(), Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted,
		CreatedAt: at, UpdatedAt: at, Seq: 3, History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, Attempt: 1, Reason: v1.ReasonSubmitted, At: at}}}
	for _, canonical := range [][]byte{spec.Canonical(), []byte("null")} {
		w := httptest.NewRecorder()
		writeSubmitted(w, http.StatusCreated, canonical, ex)
		want, ok := spliceExecutionBefore(canonical, ex)
		if !ok {
			ref := httptest.NewRecorder()
			writeJSON(ref, http.StatusCreated, ex)
			want = ref.Body.Bytes()
		}
		if w.Code != http.StatusCreated || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(want) {
			t.Fatalf("%d %q\n%s\nwant 201 application/json\n%s", w.Code, w.Header().Get("Content-Type"), w.Body, want)
		}
		if cl := w.Header().Get("Content-Length"); ok && cl != strconv.Itoa(len(want)) {
			t.Fatalf("Content-Length %s, body %d bytes", cl, len(want))
		}
	}
}
