package federation

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// fastJSON encodes the answers of hot paths (submit). It renders what
// encoding/json renders for the API types (sorted map keys, HTML escaping,
// the types' own MarshalJSON), with a fraction of the CPU: on a 2-core
// control plane each microsecond per submission is throughput.
var fastJSON = jsoniter.ConfigCompatibleWithStandardLibrary

// writeJSONFast is writeJSON through fastJSON, for hot paths; v must not be
// nil. Like writeJSON it ends the body with a newline.
func writeJSONFast(w http.ResponseWriter, status int, v any) {
	stream := fastJSON.BorrowStream(nil)
	defer fastJSON.ReturnStream(stream)
	stream.WriteVal(v)
	if stream.Error != nil {
		// Cannot happen for the API types; fall back to the reference
		// encoder rather than send half a document.
		writeJSON(w, status, v)
		return
	}
	stream.WriteRaw("\n")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(stream.Buffer()) // the client went away; nothing to do
}

// strictJSON decodes request bodies on hot paths as decodeBody does:
// unknown fields are errors, as is anything after the JSON value.
// Workflows decode through a cache of their JSON (workflow_cache.go).
var strictJSON = func() jsoniter.API {
	api := jsoniter.Config{
		EscapeHTML:             true,
		SortMapKeys:            true,
		ValidateJsonRawMessage: true,
		DisallowUnknownFields:  true,
	}.Froze()
	api.RegisterExtension(&requestWorkflowExtension{})
	return api
}()

// decodeBytes decodes a whole body into dst, a pointer: with strictJSON
// when it accepts the body, else as decodeStrict decides, from a zeroed dst
// (the fast decoder may have filled part of it before it stopped). Any
// refusal is decided by decodeBody's decoder on the same bytes, so a client
// gets the same status and message either way; the fast decoder only ever
// saves time on input that is accepted (FuzzDecodeBytes holds it to the
// reference). Submissions come here when the hand reader (codec_spec.go)
// leaves them.
func decodeBytes(body []byte, dst any, limit int64) error {
	// encoding/json turns invalid UTF-8 into U+FFFD where the fast decoder
	// keeps the bytes, and the fast decoder takes a NUL for the end of the
	// input: such bodies (rare, and never valid JSON with a control byte)
	// take the reference path.
	if utf8.Valid(body) && !hasControlBytes(body) {
		if err := strictJSON.Unmarshal(body, dst); err == nil {
			return nil
		}
	}
	reflect.ValueOf(dst).Elem().SetZero()
	return decodeStrict(bytes.NewReader(body), dst, limit)
}

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	n := r.ContentLength
	if n < 0 || n > limit {
		n = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	if _, err := buf.ReadFrom(rd); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: over %d bytes", errTooLarge, limit)
		}
		return nil, badRequest("read body: %v", err)
	}
	return buf.Bytes(), nil
}

// hasControlBytes reports whether b holds a byte below 0x20 other than
// JSON's whitespace (tab, newline, carriage return): valid JSON has none,
// inside strings or out.
func hasControlBytes(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}

// executionStatus is v1.Execution without its spec: the fields JSON
// renders after the embedded spec's, in the same order and with the same
// tags (TestSplicedExecutionIsTheExecution holds them together).
type executionStatus struct {
	SpecHash  string                   `json:"specHash"`
	Phase     v1.ExecutionPhase        `json:"phase"`
	Cluster   string                   `json:"cluster,omitempty"`
	Attempt   int                      `json:"attempt"`
	Message   string                   `json:"message,omitempty"`
	Reason    string                   `json:"reason,omitempty"`
	CreatedAt time.Time                `json:"createdAt"`
	UpdatedAt time.Time                `json:"updatedAt"`
	Seq       uint64                   `json:"seq"`
	History   []v1.PhaseTransition     `json:"history,omitempty"`
	Nodes     map[string]v1.NodeStatus `json:"nodes,omitempty"`
	Outputs   map[string]string        `json:"outputs,omitempty"`
}

// spliceExecution renders ex as JSON from canonical, its spec's canonical
// JSON, which the submission already rendered for its hash: only the status
// fields are encoded. The spec is most of an execution's JSON, and the
// submit answer is the hottest encoding there is.
func spliceExecution(canonical []byte, ex *v1.Execution) ([]byte, bool) {
	if len(canonical) < 2 || canonical[len(canonical)-1] != '}' {
		return nil, false
	}
	out := make([]byte, 0, len(canonical)+statusSize(ex))
	out = append(out, canonical[:len(canonical)-1]...)
	if b, ok := appendPlainStatus(out, ex); ok {
		return append(b, '\n'), true
	}
	return spliceStatus(out, ex)
}

// spliceStatus appends ex's status fields to out, the spec's JSON without
// its closing brace, through fastJSON: any status appendPlainStatus leaves.
func spliceStatus(out []byte, ex *v1.Execution) ([]byte, bool) {
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
	out = append(out, ',')
	out = append(out, tail[1:]...)
	return append(out, '\n'), true
}

// statusSize bounds the length of appendPlainStatus's rendering of ex.
func statusSize(ex *v1.Execution) int {
	n := 192 + len(ex.SpecHash) + len(ex.Phase) + len(ex.Cluster) + len(ex.Message) + len(ex.Reason)
	for i := range ex.History {
		h := &ex.History[i]
		n += 112 + len(h.Phase) + len(h.Cluster) + len(h.Reason) + len(h.Message)
	}
	return n
}

// appendPlainStatus appends ex's status fields, from the comma after the
// spec's, as encoding/json (and fastJSON) render them, when that takes no
// rules but the plain ones: no nodes or outputs (what a new execution
// has), strings with nothing to escape, times MarshalJSON renders. ok is
// false otherwise, and b then holds a partial rendering past its length.
// FuzzSpliceExecution holds it to spliceStatus and to json.Marshal.
func appendPlainStatus(b []byte, ex *v1.Execution) ([]byte, bool) {
	if len(ex.Nodes) > 0 || len(ex.Outputs) > 0 {
		return b, false
	}
	ok := true
	// A new execution's times are one time: it is rendered once. Times of
	// the same instant and location render the same.
	var last time.Time
	lastAt, lastEnd := -1, -1
	str := func(key, v string, omitEmpty bool) {
		if v == "" && omitEmpty {
			return
		}
		ok = ok && plainJSON(v)
		b = append(b, key...)
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	at := func(key string, t time.Time) {
		b = append(b, key...)
		if lastAt >= 0 && t.Equal(last) && t.Location() == last.Location() {
			b = append(b, b[lastAt:lastEnd]...)
			return
		}
		lastAt, last = len(b), t
		b, ok = appendJSONTime(b, t, ok)
		lastEnd = len(b)
	}
	str(`,"specHash":`, ex.SpecHash, false)
	str(`,"phase":`, string(ex.Phase), false)
	str(`,"cluster":`, ex.Cluster, true)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(ex.Attempt), 10)
	str(`,"message":`, ex.Message, true)
	str(`,"reason":`, ex.Reason, true)
	at(`,"createdAt":`, ex.CreatedAt)
	at(`,"updatedAt":`, ex.UpdatedAt)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, ex.Seq, 10)
	if len(ex.History) > 0 {
		b = append(b, `,"history":[`...)
		for i := range ex.History {
			h := &ex.History[i]
			if i > 0 {
				b = append(b, ',')
			}
			str(`{"phase":`, string(h.Phase), false)
			str(`,"cluster":`, h.Cluster, true)
			b = append(b, `,"attempt":`...)
			b = strconv.AppendInt(b, int64(h.Attempt), 10)
			str(`,"reason":`, h.Reason, true)
			str(`,"message":`, h.Message, true)
			at(`,"at":`, h.At)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), ok
}

// plainJSON reports whether JSON renders s as it is between quotes:
// printable ASCII but for " \ < > &, which encoding/json escapes (the
// HTML characters too).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendJSONTime appends t as Time.MarshalJSON renders it, and ok unless
// MarshalJSON would refuse t (the checks of its appendStrictRFC3339: a
// year of four digits, a zone offset under 24 hours).
func appendJSONTime(b []byte, t time.Time, ok bool) ([]byte, bool) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if len(b) < n0+len("2006-01-02T15:04:05Z") || b[n0+len("2006")] != '-' {
		ok = false
	} else if b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		if '0' <= c && c <= '9' || 10*(b[len(b)-5]-'0')+(b[len(b)-4]-'0') >= 24 {
			ok = false
		}
	}
	return append(b, '"'), ok
}

// writeSubmitted answers a submission with the execution it created.
func writeSubmitted(w http.ResponseWriter, status int, canonical []byte, ex *v1.Execution) {
	body, ok := spliceExecution(canonical, ex)
	if !ok {
		writeJSONFast(w, status, ex)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing to do
}
