package federation

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// A submission body is read by hand (specReader) when it is written the
// way clients write one: exact field names, each once, no nulls, integers
// as plain digits. Strings may hold escapes; a workflow is looked up by its
// bytes in requestWorkflows (workflow_cache.go) and decoded by strictJSON
// when it is not there. Anything else, refusals included, is left to
// decodeBytes, which decides on the whole body as before, so the hand
// reader only ever saves time on input that encoding/json accepts, with
// the same value (FuzzDecodeSpecBody holds it to the reference decoder).

// specBody is what decodeSpecBody read besides the spec: the workflow's
// JSON in the body and its cache entry, when the hand reader took it.
type specBody struct {
	// workflow is the workflow's bytes in the body, nil when the body took
	// the reference path or has no workflow.
	workflow []byte
	// cached is the cache's entry for workflow, nil on a miss.
	cached *cachedWorkflow
}

// decodeSpecBody decodes a whole submission body into spec, which must be
// zero: by hand when the body is plain (see above), else as decodeBytes.
func decodeSpecBody(body []byte, spec *v1.ExecutionSpec, limit int64) (specBody, error) {
	if utf8.Valid(body) && !hasControlBytes(body) {
		r := specReader{b: body}
		if sb, ok := r.spec(spec); ok {
			return sb, nil
		}
		*spec = v1.ExecutionSpec{}
	}
	return specBody{}, decodeBytes(body, spec, limit)
}

// specReader reads JSON from b at i. Its methods return false on anything
// they do not read the plain way, valid JSON or not; b is valid UTF-8
// without control bytes.
type specReader struct {
	b []byte
	i int
}

// Fields of a spec, as bits of what a reader has seen.
const (
	fProject = 1 << iota
	fDomain
	fName
	fTier
	fClusterSelector
	fPreferredLabels
	fInputs
	fWorkflow
	fMaxAttempts
)

func (r *specReader) spec(s *v1.ExecutionSpec) (specBody, bool) {
	var sb specBody
	if !r.consume('{') {
		return sb, false
	}
	seen := 0
	if !r.consume('}') {
		for {
			key, ok := r.key()
			if !ok {
				return sb, false
			}
			var bit int
			switch string(key) {
			case "project":
				bit = fProject
				s.Project, ok = r.str()
			case "domain":
				bit = fDomain
				s.Domain, ok = r.str()
			case "name":
				bit = fName
				s.Name, ok = r.str()
			case "tier":
				bit = fTier
				s.Tier, ok = r.tier()
			case "clusterSelector":
				bit = fClusterSelector
				s.ClusterSelector, ok = r.selector()
			case "preferredLabels":
				bit = fPreferredLabels
				s.PreferredLabels, ok = r.stringMap()
			case "inputs":
				bit = fInputs
				s.Inputs, ok = r.stringMap()
			case "workflow":
				bit = fWorkflow
				ok = r.workflow(&s.Workflow, &sb)
			case "maxAttempts":
				bit = fMaxAttempts
				s.MaxAttempts, ok = r.int()
			default:
				return sb, false
			}
			if !ok || seen&bit != 0 {
				return sb, false
			}
			seen |= bit
			if r.consume(',') {
				continue
			}
			if !r.consume('}') {
				return sb, false
			}
			break
		}
	}
	r.skipSpace()
	return sb, r.i == len(r.b)
}

// workflow reads a workflow object: from the cache when its bytes are
// there, else decoded by strictJSON (the bytes are cached once the spec is
// accepted, decodeSubmission).
func (r *specReader) workflow(w *v1.WorkflowSpec, sb *specBody) bool {
	if r.peek() == '{' {
		if e, ok := requestWorkflows.getPrefix(r.b[r.i:]); ok {
			w.Nodes = e.nodes
			sb.workflow, sb.cached = r.b[r.i:r.i+len(e.raw)], e
			r.i += len(e.raw)
			return true
		}
	}
	raw, ok := r.skipObject()
	if !ok {
		return false
	}
	if e, ok := requestWorkflows.lookup(raw); ok {
		w.Nodes = e.nodes
		sb.workflow, sb.cached = raw, e
		return true
	}
	var plain plainWorkflow
	if err := strictJSON.Unmarshal(raw, &plain); err != nil {
		return false
	}
	*w = v1.WorkflowSpec(plain)
	sb.workflow = raw
	return true
}

func (r *specReader) selector() (*v1.LabelSelector, bool) {
	sel := &v1.LabelSelector{}
	seen := 0
	ok := r.object(func(key []byte) bool {
		var ok bool
		bit := 0
		switch string(key) {
		case "matchLabels":
			bit = 1
			sel.MatchLabels, ok = r.stringMap()
		case "matchExpressions":
			bit = 2
			sel.MatchExpressions, ok = r.requirements()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	return sel, ok
}

func (r *specReader) requirements() ([]v1.LabelSelectorRequirement, bool) {
	if !r.consume('[') {
		return nil, false
	}
	reqs := []v1.LabelSelectorRequirement{}
	if r.consume(']') {
		return reqs, true
	}
	for {
		var req v1.LabelSelectorRequirement
		seen := 0
		ok := r.object(func(key []byte) bool {
			var ok bool
			bit := 0
			switch string(key) {
			case "key":
				bit = 1
				req.Key, ok = r.str()
			case "operator":
				bit = 2
				var op string
				op, ok = r.str()
				req.Operator = v1.SelectorOperator(op)
			case "values":
				bit = 4
				req.Values, ok = r.stringSlice()
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			return true
		})
		if !ok {
			return nil, false
		}
		reqs = append(reqs, req)
		if r.consume(',') {
			continue
		}
		return reqs, r.consume(']')
	}
}

// object reads an object whose keys are plain, calling member with each
// key and the reader at its value; member reads the value.
func (r *specReader) object(member func(key []byte) bool) bool {
	if !r.consume('{') {
		return false
	}
	if r.consume('}') {
		return true
	}
	for {
		key, ok := r.key()
		if !ok || !member(key) {
			return false
		}
		if r.consume(',') {
			continue
		}
		return r.consume('}')
	}
}

// stringMap reads an object of strings: a later key replaces an earlier
// one, as encoding/json does, and {} is an empty map, not nil.
func (r *specReader) stringMap() (map[string]string, bool) {
	if !r.consume('{') {
		return nil, false
	}
	m := map[string]string{}
	if r.consume('}') {
		return m, true
	}
	for {
		k, ok := r.str()
		if !ok || !r.consume(':') {
			return nil, false
		}
		v, ok := r.str()
		if !ok {
			return nil, false
		}
		m[k] = v
		if r.consume(',') {
			continue
		}
		return m, r.consume('}')
	}
}

// stringSlice reads an array of strings; [] is empty, not nil.
func (r *specReader) stringSlice() ([]string, bool) {
	if !r.consume('[') {
		return nil, false
	}
	xs := []string{}
	if r.consume(']') {
		return xs, true
	}
	for {
		x, ok := r.str()
		if !ok {
			return nil, false
		}
		xs = append(xs, x)
		if r.consume(',') {
			continue
		}
		return xs, r.consume(']')
	}
}

// int reads an integer written as digits, with a sign or not, of at most
// 18 digits (so it cannot overflow).
func (r *specReader) int() (int, bool) {
	r.skipSpace()
	neg := r.i < len(r.b) && r.b[r.i] == '-'
	if neg {
		r.i++
	}
	start, v := r.i, 0
	for ; r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9'; r.i++ {
		v = 10*v + int(r.b[r.i]-'0')
	}
	n := r.i - start
	if n == 0 || n > 18 || n > 1 && r.b[start] == '0' {
		return 0, false
	}
	if r.i < len(r.b) {
		if c := r.b[r.i]; c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// tier reads a tier: a known one without allocating.
func (r *specReader) tier() (v1.Tier, bool) {
	start, end, escaped, ok := r.scanString()
	if !ok {
		return "", false
	}
	if !escaped {
		for _, t := range v1.Tiers {
			if string(r.b[start:end]) == string(t) {
				return t, true
			}
		}
	}
	t, ok := r.unquote(start, end, escaped)
	return v1.Tier(t), ok
}

// key reads an object key without escapes, and the colon after it.
func (r *specReader) key() ([]byte, bool) {
	start, end, escaped, ok := r.scanString()
	if !ok || escaped || !r.consume(':') {
		return nil, false
	}
	return r.b[start:end], true
}

// str reads a string. One with escapes is unquoted by encoding/json
// itself, so that it reads exactly as the reference decoder reads it.
func (r *specReader) str() (string, bool) {
	start, end, escaped, ok := r.scanString()
	if !ok {
		return "", false
	}
	return r.unquote(start, end, escaped)
}

// unquote returns the string scanString found.
func (r *specReader) unquote(start, end int, escaped bool) (string, bool) {
	if !escaped {
		return string(r.b[start:end]), true
	}
	var s string
	if json.Unmarshal(r.b[start-1:end+1], &s) != nil {
		return "", false
	}
	return s, true
}

// scanString finds the string at the reader: its contents are
// b[start:end], and escaped tells whether they hold a backslash.
func (r *specReader) scanString() (start, end int, escaped, ok bool) {
	if r.peek() != '"' {
		return 0, 0, false, false
	}
	r.i++
	start = r.i
	for {
		q := bytes.IndexByte(r.b[r.i:], '"')
		if q < 0 {
			return 0, 0, false, false
		}
		end = r.i + q
		if bytes.IndexByte(r.b[r.i:end], '\\') < 0 {
			r.i = end + 1
			return start, end, escaped, true
		}
		escaped = true
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for j := end - 1; j >= start && r.b[j] == '\\'; j-- {
			n++
		}
		r.i = end + 1
		if n%2 == 0 {
			return start, end, true, true
		}
	}
}

// skipObject steps over the object at the reader and returns its bytes. It
// only matches brackets and strings: whether they are valid JSON is for
// the decoder of the bytes to say.
func (r *specReader) skipObject() ([]byte, bool) {
	if r.peek() != '{' {
		return nil, false
	}
	start, depth := r.i, 0
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				r.i++
				return r.b[start:r.i], true
			}
		case '"':
			if _, _, _, ok := r.scanString(); !ok {
				return nil, false
			}
			continue
		}
		r.i++
	}
	return nil, false
}

func (r *specReader) skipSpace() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, 0 at the end.
func (r *specReader) peek() byte {
	r.skipSpace()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// consume steps over c, the next byte after whitespace, if it is there.
func (r *specReader) consume(c byte) bool {
	if r.peek() == c {
		r.i++
		return true
	}
	return false
}
