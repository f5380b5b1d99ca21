package v1alpha1

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// The canonical JSON of a spec is what encoding/json.Marshal renders of it:
// spec hashes, and so every Raft log and snapshot, hold those bytes. It is
// rendered here by hand, field by field in declaration order, with the
// rules encoding/json applies to these types: omitempty drops empty
// strings, zero ints, nil pointers and empty slices and maps (a struct is
// never empty); a nil slice without omitempty is null; map keys are sorted
// bytewise; strings are escaped as appendString in encoding/json does
// (HTML characters, U+2028 and U+2029, invalid UTF-8 as U+FFFD).
// FuzzAppendCanonical holds it to json.Marshal, and
// TestCanonicalCoversEveryField fails when a type gains a field this file
// does not render.

// AppendCanonical appends the spec's canonical JSON (Canonical) to b.
func (s *ExecutionSpec) AppendCanonical(b []byte) []byte {
	b = s.appendHead(b)
	b = s.Workflow.AppendCanonical(b)
	return s.appendTail(b)
}

// AppendCanonicalWorkflow is AppendCanonical with the workflow's rendering
// given: workflow must be s.Workflow's canonical JSON (WorkflowSpec's
// AppendCanonical, or json.Marshal of it), for instance kept from an
// earlier submission of the same workflow.
func (s *ExecutionSpec) AppendCanonicalWorkflow(b, workflow []byte) []byte {
	b = s.appendHead(b)
	b = append(b, workflow...)
	return s.appendTail(b)
}

// CanonicalWith is Canonical with the workflow's rendering given, as
// AppendCanonicalWorkflow takes it.
func (s *ExecutionSpec) CanonicalWith(workflow []byte) []byte {
	return s.AppendCanonicalWorkflow(make([]byte, 0, s.headSize()+len(workflow)+32), workflow)
}

// appendHead appends the spec's fields before the workflow's value.
func (s *ExecutionSpec) appendHead(b []byte) []byte {
	b = append(b, `{"project":`...)
	b = appendJSONString(b, s.Project)
	b = append(b, `,"domain":`...)
	b = appendJSONString(b, s.Domain)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, s.Name)
	if s.Tier != "" {
		b = append(b, `,"tier":`...)
		b = appendJSONString(b, string(s.Tier))
	}
	if s.ClusterSelector != nil {
		b = append(b, `,"clusterSelector":`...)
		b = s.ClusterSelector.appendCanonical(b)
	}
	if len(s.PreferredLabels) > 0 {
		b = append(b, `,"preferredLabels":`...)
		b = appendStringMap(b, s.PreferredLabels)
	}
	if len(s.Inputs) > 0 {
		b = append(b, `,"inputs":`...)
		b = appendStringMap(b, s.Inputs)
	}
	return append(b, `,"workflow":`...)
}

// appendTail appends the spec's fields after the workflow's value.
func (s *ExecutionSpec) appendTail(b []byte) []byte {
	if s.MaxAttempts != 0 {
		b = append(b, `,"maxAttempts":`...)
		b = strconv.AppendInt(b, int64(s.MaxAttempts), 10)
	}
	return append(b, '}')
}

// canonicalSize guesses the length of the spec's canonical JSON, to size
// its buffer in one allocation most of the time.
func (s *ExecutionSpec) canonicalSize() int { return s.headSize() + 32 + 256*len(s.Workflow.Nodes) }

// headSize guesses the length of appendHead's rendering (a guess short
// of it costs a copy).
func (s *ExecutionSpec) headSize() int {
	n := 128 + len(s.Project) + len(s.Domain) + len(s.Name) + len(s.Tier) + 48*(len(s.PreferredLabels)+len(s.Inputs))
	if sel := s.ClusterSelector; sel != nil {
		n += 48 * (1 + len(sel.MatchLabels) + len(sel.MatchExpressions))
	}
	return n
}

func (sel *LabelSelector) appendCanonical(b []byte) []byte {
	b = append(b, '{')
	comma := false
	if len(sel.MatchLabels) > 0 {
		b = append(b, `"matchLabels":`...)
		b = appendStringMap(b, sel.MatchLabels)
		comma = true
	}
	if len(sel.MatchExpressions) > 0 {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"matchExpressions":[`...)
		for i := range sel.MatchExpressions {
			if i > 0 {
				b = append(b, ',')
			}
			r := &sel.MatchExpressions[i]
			b = append(b, `{"key":`...)
			b = appendJSONString(b, r.Key)
			b = append(b, `,"operator":`...)
			b = appendJSONString(b, string(r.Operator))
			if len(r.Values) > 0 {
				b = append(b, `,"values":`...)
				b = appendStringSlice(b, r.Values)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// AppendCanonical appends the workflow's JSON as json.Marshal renders it.
func (w *WorkflowSpec) AppendCanonical(b []byte) []byte {
	if w.Nodes == nil {
		return append(b, `{"nodes":null}`...)
	}
	b = append(b, `{"nodes":[`...)
	for i := range w.Nodes {
		if i > 0 {
			b = append(b, ',')
		}
		b = w.Nodes[i].appendCanonical(b)
	}
	return append(b, "]}"...)
}

func (n *TaskNode) appendCanonical(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, n.ID)
	if len(n.DependsOn) > 0 {
		b = append(b, `,"dependsOn":`...)
		b = appendStringSlice(b, n.DependsOn)
	}
	b = append(b, `,"image":`...)
	b = appendJSONString(b, n.Image)
	if len(n.Command) > 0 {
		b = append(b, `,"command":`...)
		b = appendStringSlice(b, n.Command)
	}
	if len(n.Args) > 0 {
		b = append(b, `,"args":`...)
		b = appendStringSlice(b, n.Args)
	}
	if len(n.Env) > 0 {
		b = append(b, `,"env":`...)
		b = appendStringMap(b, n.Env)
	}
	b = append(b, `,"resources":{`...)
	comma := false
	for _, f := range [...]struct{ key, v string }{{`"cpu":`, n.Resources.CPU}, {`"memory":`, n.Resources.Memory}, {`"gpu":`, n.Resources.GPU}} {
		if f.v == "" {
			continue
		}
		if comma {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		b = appendJSONString(b, f.v)
		comma = true
	}
	b = append(b, '}')
	if len(n.Inputs) > 0 {
		b = append(b, `,"inputs":`...)
		b = appendBindings(b, n.Inputs)
	}
	if n.Retries != 0 {
		b = append(b, `,"retries":`...)
		b = strconv.AppendInt(b, int64(n.Retries), 10)
	}
	if n.Timeout != "" {
		b = append(b, `,"timeout":`...)
		b = appendJSONString(b, n.Timeout)
	}
	if n.Cache != nil {
		b = append(b, `,"cache":{"version":`...)
		b = appendJSONString(b, n.Cache.Version)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendBindings(b []byte, m map[string]Binding) []byte {
	var buf [8]string
	b = append(b, '{')
	for i, k := range sortedKeys(buf[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':', '{')
		v := m[k]
		comma := false
		for _, f := range [...]struct{ key, v string }{{`"fromInput":`, v.FromInput}, {`"fromNode":`, v.FromNode}, {`"output":`, v.Output}} {
			if f.v == "" {
				continue
			}
			if comma {
				b = append(b, ',')
			}
			b = append(b, f.key...)
			b = appendJSONString(b, f.v)
			comma = true
		}
		if v.Value != nil {
			if comma {
				b = append(b, ',')
			}
			b = append(b, `"value":`...)
			b = appendJSONString(b, *v.Value)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendStringMap(b []byte, m map[string]string) []byte {
	var buf [8]string
	b = append(b, '{')
	for i, k := range sortedKeys(buf[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

func appendStringSlice(b []byte, xs []string) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, x)
	}
	return append(b, ']')
}

// sortedKeys appends m's keys to keys in bytewise order, as encoding/json
// sorts them. A few keys are sorted in place, without sort's overhead.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) > 8 {
		slices.Sort(keys)
		return keys
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// jsonSafe marks the ASCII bytes encoding/json writes as they are with
// HTML escaping on (its htmlSafeSet): printable ASCII but for " \ < > &.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as encoding/json renders a string (its
// appendString with escapeHTML). Other hand renderings of JSON (the Raft
// log's commands) use it too.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				// Other control bytes, and < > &.
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
