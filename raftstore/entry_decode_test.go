package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// decodeEntryFast is held to reflection: whatever it decodes, fastJSON
// decodes into a decodedBatch to the same commands, and a log entry
// decodes through decodeLogEntry to the same commands, per-command errors
// and entry error as it did with reflection alone.

// reflectDecodeBatch is decodeBatchCommands as it was before
// decodeEntryFast: reflection on the whole entry.
func reflectDecodeBatch(data []byte) ([]Command, bool) {
	var e decodedBatch
	if err := fastJSON.Unmarshal(data, &e); err != nil || e.Version != batchVersion {
		return nil, false
	}
	return e.Commands, true
}

// reflectDecodeLogEntry is decodeLogEntry (state_apply.go) as it was
// before decodeEntryFast.
func reflectDecodeLogEntry(index uint64, data []byte) ([]Command, []error, error) {
	plain, release, err := unpackEntry(data)
	if err != nil {
		return nil, nil, fmt.Errorf("apply log entry %d: %w: %v", index, ErrUnknownCommand, err)
	}
	defer release()
	if cmds, ok := reflectDecodeBatch(plain); ok {
		return cmds, nil, nil
	}
	entry, err := decodeBatch(plain)
	if err != nil {
		return nil, nil, fmt.Errorf("apply log entry %d: %w", index, err)
	}
	cmds := make([]Command, len(entry.Commands))
	errs := make([]error, len(entry.Commands))
	for i, raw := range entry.Commands {
		if err := fastJSON.Unmarshal(raw, &cmds[i]); err != nil {
			errs[i] = fmt.Errorf("%w: decode command: %v", ErrUnknownCommand, err)
		}
	}
	return cmds, errs, nil
}

// checkDecodesAlike fails t when data decodes otherwise than by
// reflection, and reports whether decodeEntryFast took it.
func checkDecodesAlike(t testing.TB, data []byte) bool {
	t.Helper()
	got, ok := decodeEntryFast(data)
	want, wantOK := reflectDecodeBatch(data)
	if ok && !wantOK {
		t.Fatalf("decoded an entry reflection refuses:\n%q", data)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("entry %q\ndecodes to\n%#v\nreflection to\n%#v", data, got, want)
	}
	cmds, errs, err := decodeLogEntry(7, data)
	wantCmds, wantErrs, wantErr := reflectDecodeLogEntry(7, data)
	if errText(err) != errText(wantErr) {
		t.Fatalf("entry %q: error %v, reflection %v", data, err, wantErr)
	}
	if !reflect.DeepEqual(cmds, wantCmds) {
		t.Fatalf("entry %q\ndecodeLogEntry gives\n%#v\nreflection\n%#v", data, cmds, wantCmds)
	}
	if len(errs) != len(wantErrs) || (errs == nil) != (wantErrs == nil) {
		t.Fatalf("entry %q: command errors %v, reflection %v", data, errs, wantErrs)
	}
	for i := range errs {
		if errText(errs[i]) != errText(wantErrs[i]) {
			t.Fatalf("entry %q: command %d error %v, reflection %v", data, i, errs[i], wantErrs[i])
		}
	}
	return ok
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// everyCommand is a command of every type in command.go, payload filled.
func everyCommand() []Command {
	at := time.Date(2026, 11, 30, 23, 37, 44, 123456789, time.UTC)
	k := key("k")
	weight := 3
	s := richSpec("rich")
	s.PreferredLabels = map[string]string{"zone": "a", "disk": "ssd"}
	s.MaxAttempts = 7
	s.ClusterSelector.MatchExpressions = []v1.LabelSelectorRequirement{{Key: "gpu", Operator: v1.OpIn, Values: []string{"a100", "h100"}}}
	s.Workflow.Nodes[0].Env = map[string]string{"MODE": "<fast>"}
	s.Workflow.Nodes[0].Cache = &v1.CacheSpec{Version: "1"}
	owner := v1.CacheOwner{Execution: k, Attempt: 1, Node: "n1", Cluster: "c1"}
	cmds := []Command{
		{Type: CmdSubmit, Submit: NewSubmitCmd(readmeSpec("readme"))},
		{Type: CmdSubmit, Submit: NewSubmitCmd(s)},
		submit(s), // json.Marshal, no hash
		{Type: CmdCancel, Key: &k},
		assign("k", "c1", 2),
		report("k", "c1", 2, v1.PhaseRunning),
		{Type: CmdReport, Report: &ReportCmd{Cluster: "c1", Report: v1.StatusReport{
			ExecutionKey: k, Attempt: 1, Phase: v1.PhaseSucceeded, Message: "done \"ok\"",
			Nodes:   map[string]v1.NodeStatus{"a": {Phase: "Succeeded", Outputs: map[string]string{"path": "/x"}, StartedAt: &at}},
			Outputs: map[string]string{"path": "/x"}, At: at,
		}}},
		requeue("k", 2, v1.ReasonClusterLost),
		register("c1"),
		{Type: CmdUpdateCluster, Name: "c1", Patch: &v1.ClusterPatch{Weight: &weight, Labels: map[string]string{"zone": "b"}}},
		named(CmdRemoveCluster, "c1"),
		named(CmdCordon, "c1"),
		named(CmdUncordon, "c1"),
		{Type: CmdDrain, Name: "c1", Deadline: at.Add(time.Hour)},
		heartbeat("c1"),
		{Type: CmdSetHealth, Name: "c1", Healthy: true},
		{Type: CmdSetHealth, Name: "c1"},
		{Type: CmdSetBreaker, Name: "c1", Breaker: v1.BreakerOpen},
		{Type: CmdSetMember, Member: &MemberMeta{ID: "m1", HTTPAddress: "10.0.0.1:8080"}},
		{Type: CmdRemoveMember, Member: &MemberMeta{ID: "m1"}},
		{Type: CmdCacheClaim, CacheClaim: &CacheClaimCmd{Key: "ck", Project: "p", Claim: true, Owner: owner, ClaimFor: time.Minute}},
		{Type: CmdCachePut, CachePut: &CachePutCmd{Key: "ck", Project: "p", Outputs: map[string]string{"o": "v"}, Owner: owner, TTL: time.Hour, MaxEntries: 5, MaxBytes: 1 << 20}},
		{Type: CmdCacheEvict, CacheEvict: &CacheEvictCmd{Key: "ck", Project: "p", ReleaseBy: &owner, Sweep: true}},
		{Type: CmdArchive, Archive: &ArchiveCmd{Keys: []v1.ExecutionKey{k, key("j")}, Retention: time.Hour}},
		{Type: "bogus", Name: "x"},
		{Version: 2, Type: CmdSubmit, Submit: NewSubmitCmd(readmeSpec("v2"))},
	}
	for i := range cmds {
		if cmds[i].Version == 0 {
			cmds[i].Version = CommandVersion
		}
		cmds[i].At = at.Add(time.Duration(i) * time.Millisecond)
	}
	return cmds
}

// commandEncodings renders every command both ways a log holds it: as the
// batcher renders it now, and by json.Marshal (older entries, and every
// command but submissions and assignments).
func commandEncodings(tb testing.TB) []json.RawMessage {
	tb.Helper()
	var raws []json.RawMessage
	for _, c := range everyCommand() {
		raw, err := encodeCommand(&c)
		if err != nil {
			tb.Fatal(err)
		}
		raws = append(raws, raw)
		if m, err := json.Marshal(&c); err != nil {
			tb.Fatal(err)
		} else if !bytes.Equal(m, raw) {
			raws = append(raws, m)
		}
	}
	return raws
}

// canonicalEntries are entries as versions of the batcher wrote them: one
// command each, all of them together, and a group-commit batch.
func canonicalEntries(tb testing.TB) [][]byte {
	raws := commandEncodings(tb)
	var entries [][]byte
	for _, raw := range raws {
		entries = append(entries, encodeBatch([]json.RawMessage{raw}))
	}
	entries = append(entries, encodeBatch(raws))
	plain, release, err := unpackEntry(readmeEntry(tb, 8))
	if err != nil {
		tb.Fatal(err)
	}
	entries = append(entries, bytes.Clone(plain))
	release()
	return entries
}

func TestDecodeEntryFastTakesWhatTheBatcherWrites(t *testing.T) {
	for _, e := range canonicalEntries(t) {
		if !checkDecodesAlike(t, e) {
			t.Errorf("declined a canonical entry: %s", e)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, e, "", " \t"); err != nil {
			t.Fatal(err)
		}
		if !checkDecodesAlike(t, indented.Bytes()) {
			t.Errorf("declined an indented canonical entry: %s", indented.Bytes())
		}
	}
}

// TestDecodeEntryFastDecodesLikeReflection mutates every key and value of
// the canonical entries: unknown fields, repeated keys, keys in other case
// or escaped, nulls, escapes, numbers of every form, other types, invalid
// JSON, truncations, trailing bytes, unknown versions.
func TestDecodeEntryFastDecodesLikeReflection(t *testing.T) {
	var n, fast int
	check := func(data []byte) {
		n++
		if checkDecodesAlike(t, data) {
			fast++
		}
	}
	for _, e := range canonicalEntries(t) {
		if len(e) > 4096 {
			check(e)
			continue
		}
		for _, m := range mutations(e) {
			check(m)
		}
	}
	for _, e := range [][]byte{
		[]byte(`{"v":2,"cmds":[{"v":1,"t":"cancel","key":{"project":"p","domain":"d","name":"k"}}]}`),
		[]byte(`{"v":1,"cmds":[]}`),
		[]byte(`{"v":1,"cmds":null}`),
		[]byte(`{"v":1}`),
		[]byte(`{"cmds":[{"v":1}]}`),
		[]byte(`{"v":1,"cmds":[null]}`),
		[]byte(`{"v":1,"cmds":[{}]}`),
		[]byte(`{"v":1,"cmds":[{"v":3,"t":"submit"}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{"spec":{}}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{"spec":{"workflow":{}}}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{"spec":{"workflow":{"nodes":[]}}}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{"spec":{"workflow":{"nodes":[{"id":1}]}}}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{"spec":{"workflow":{"nodes":[{"id":"a"}]],"x":1}}}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"submit","submit":{"spec":{"clusterSelector":{}}}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"report","report":{"cluster":"c1","report":{"project":"p","domain":"d","name":"a","attempt":1,"phase":"Bogus"}}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"assign","assign":{"key":{"project":"p","domain":"d","name":"q"},"cluster":"c1","attempt":1.5}}]}`),
		[]byte(`{"v":1,"cmds":[{"v":1,"t":"cancel","key":{"project":"p","domain":"d","name":"k"}}]}` + "\x00junk"),
		[]byte("\x01garbage"),
		[]byte(`not json`),
		[]byte(``),
	} {
		check(e)
	}
	t.Logf("%d entries, %d decoded by hand", n, fast)
	if fast < n/20 {
		t.Fatalf("only %d of %d mutated entries decoded by hand: the test exercises little", fast, n)
	}
}

// mutations returns variants of the JSON document doc: for every key and
// every value, edits that reflection may read otherwise than the grammar
// decodeEntryFast accepts, and edits it accepts.
func mutations(doc []byte) [][]byte {
	var out [][]byte
	edit := func(at, end int, with string) {
		m := make([]byte, 0, len(doc)+len(with))
		m = append(m, doc[:at]...)
		m = append(m, with...)
		m = append(m, doc[end:]...)
		out = append(out, m)
	}
	keys, values, objects := jsonPositions(doc)
	for _, k := range keys {
		name := string(doc[k.start+1 : k.end-1])
		edit(k.start, k.end, `"`+strings.ToUpper(name[:1])+name[1:]+`"`)
		edit(k.start, k.end, fmt.Sprintf(`"\u%04x%s"`, name[0], name[1:]))
		edit(k.start, k.end, `"`+name+`x"`)
		edit(k.start, k.start, " ")
	}
	for _, v := range values {
		val := string(doc[v.start:v.end])
		for _, with := range []string{
			"null", `""`, `"x\"y"`, `"\u003cz\u003e"`, `"a\\b"`, "\"tab\there\"", "\"\xff\xfe\"",
			"0", "-0", "01", "1.0", "1e2", "-7", "123456789012345678901", "true", "false",
			"{}", "[]", `{"zz":1}`, `[1,2]`, "nul", `"unterminated`, "{", "}",
			" " + val + " ", "\n" + val, val + val,
		} {
			edit(v.start, v.end, with)
		}
		if len(val) > 2 && val[0] == '"' {
			edit(v.start+1, v.start+1, `\\`)
			edit(v.start+1, v.start+2, `\u00`+fmt.Sprintf("%02x", val[1]))
		}
	}
	for _, o := range objects {
		edit(o+1, o+1, `"zz":{"a":[1,"}"]},`)
		if first, ok := firstMember(doc, o, keys, values); ok {
			edit(o+1, o+1, first+",")
		}
	}
	for i := 0; i <= len(doc); i += max(1, len(doc)/64) {
		out = append(out, bytes.Clone(doc[:i]))
	}
	out = append(out, append(bytes.Clone(doc), 'x'), append(bytes.Clone(doc), 0), append(bytes.Clone(doc), " \n"...))
	return out
}

type span struct{ start, end int }

// jsonPositions lists the keys (quotes included) and values of a valid
// JSON document, and the offsets of its objects' opening braces.
func jsonPositions(doc []byte) (keys, values []span, objects []int) {
	var stack []int // start of each open value
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; c {
		case '"':
			start := i
			for i++; doc[i] != '"'; i++ {
				if doc[i] == '\\' {
					i++
				}
			}
			j := i + 1
			for j < len(doc) && (doc[j] == ' ' || doc[j] == '\n' || doc[j] == '\t' || doc[j] == '\r') {
				j++
			}
			if j < len(doc) && doc[j] == ':' {
				keys = append(keys, span{start, i + 1})
			} else {
				values = append(values, span{start, i + 1})
			}
		case '{', '[':
			if c == '{' {
				objects = append(objects, i)
			}
			stack = append(stack, i)
		case '}', ']':
			start := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			values = append(values, span{start, i + 1})
		case ' ', '\n', '\t', '\r', ',', ':':
		default:
			start := i
			for i+1 < len(doc) && !strings.ContainsRune(" \n\t\r,:]}", rune(doc[i+1])) {
				i++
			}
			values = append(values, span{start, i + 1})
		}
	}
	return keys, values, objects
}

// firstMember returns the text of the first member of the object at o.
func firstMember(doc []byte, o int, keys, values []span) (string, bool) {
	for _, k := range keys {
		if k.start <= o {
			continue
		}
		if strings.TrimSpace(string(doc[o+1:k.start])) != "" {
			return "", false
		}
		for _, v := range values {
			if v.start > k.end && strings.TrimSpace(string(doc[k.end:v.start])) == ":" {
				return string(doc[k.start:v.end]), true
			}
		}
	}
	return "", false
}

// FuzzDecodeEntryFast holds decodeEntryFast to reflection on arbitrary
// bytes: as the whole entry, as one command of an entry, or as the spec of
// a submission.
func FuzzDecodeEntryFast(f *testing.F) {
	for _, e := range canonicalEntries(f) {
		f.Add(e, uint8(0))
	}
	for _, raw := range commandEncodings(f) {
		f.Add([]byte(raw), uint8(1))
	}
	spec, err := json.Marshal(richSpec("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(spec, uint8(2))
	f.Add([]byte(`{"project":"p","workflow":{"nodes":[{"id":"a","image":"i"}]}}`), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, wrap uint8) {
		switch wrap % 3 {
		case 1:
			data = encodeBatch([]json.RawMessage{data})
		case 2:
			data = []byte(`{"v":1,"cmds":[{"v":1,"t":"submit","at":"2026-01-02T03:04:05Z","submit":{"spec":` + string(data) + `,"hash":"h"}}]}`)
		}
		checkDecodesAlike(t, data)
	})
}

// The zero time is the value time.Time decodes the zero time's JSON to,
// which the memo of a command's deadline relies on not at all, but the
// equality of decoded commands does.
func TestDecodedTimesAreReflections(t *testing.T) {
	for _, raw := range []string{`"0001-01-01T00:00:00Z"`, `"2026-11-30T23:37:44.123456789Z"`, `"2026-11-30T23:37:44+01:00"`} {
		data := []byte(`{"v":1,"cmds":[{"v":1,"t":"drain","at":` + raw + `,"deadline":` + raw + `},{"v":1,"t":"drain","at":` + raw + `,"deadline":` + raw + `}]}`)
		if !checkDecodesAlike(t, data) {
			t.Fatalf("declined %s", data)
		}
	}
}

// Replicas in one process decode at once, through the same caches.
func TestDecodeEntryFastConcurrently(t *testing.T) {
	entries := canonicalEntries(t)
	want := make([][]Command, len(entries))
	for i, e := range entries {
		want[i], _ = reflectDecodeBatch(e)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				for i, e := range entries {
					if got, ok := decodeEntryFast(e); !ok || !reflect.DeepEqual(got, want[i]) {
						t.Errorf("entry %d decoded otherwise (ok=%v)", i, ok)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
