package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
)

// submitBatch encodes n submissions as one batch envelope.
func submitBatch(t *testing.T, n int) []byte {
	t.Helper()
	raws := make([]json.RawMessage, n)
	for i := range raws {
		raw, err := encodeCommand(&Command{Version: CommandVersion, Type: CmdSubmit, Submit: NewSubmitCmd(spec(fmt.Sprintf("x%d", i)))})
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = raw
	}
	return encodeBatch(raws)
}

func TestPackEntry(t *testing.T) {
	tests := []struct {
		name           string
		n              int
		wantCompressed bool
	}{
		{"one submission stays plain", 0, false},
		{"a batch is compressed", 64, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain := []byte(`{"v":1,"cmds":[]}`)
			if tc.n > 0 {
				plain = submitBatch(t, tc.n)
			}
			entry := packEntry(plain)
			if got := entry[0] == entryS2; got != tc.wantCompressed {
				t.Fatalf("compressed %v, want %v (first byte %#x)", got, tc.wantCompressed, entry[0])
			}
			if tc.wantCompressed && len(entry)*4 > len(plain) {
				t.Fatalf("%d bytes compressed to %d: want at least 4x on repeated submissions", len(plain), len(entry))
			}
			// The log cache keeps the entry's whole array: it must be the
			// entry's own, of its size, whatever becomes of plain.
			if cap(entry) != len(entry) {
				t.Fatalf("entry of %d bytes in an array of %d", len(entry), cap(entry))
			}
			if unsafe.SliceData(entry) == unsafe.SliceData(plain) {
				t.Fatal("entry shares plain's array")
			}
			got, release, err := unpackEntry(entry)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatal("unpacked entry differs from the original")
			}
			release()
		})
	}
}

// A compressed entry applies exactly as its plain form does, and entries
// written before compression (plain JSON) still apply.
func TestApplyCompressedAndPlainEntriesAlike(t *testing.T) {
	plain := submitBatch(t, 100)
	a, b := NewState(), NewState()
	ra, rb := a.applyLog(1, plain), b.applyLog(1, packEntry(plain))
	for i, r := range [][]Result{ra.([]Result), rb.([]Result)} {
		if len(r) != 100 || r[0].Err != nil || r[99].Err != nil {
			t.Fatalf("state %d: results %d, first %v", i, len(r), r[0].Err)
		}
	}
	if d := diffDumps(dumpState(a), dumpState(b)); d != "" {
		t.Fatalf("states differ:\n%s", d)
	}
}

func TestApplyRefusesBadCompressedEntry(t *testing.T) {
	good := packEntry(submitBatch(t, 10))
	huge := binary.AppendUvarint([]byte{entryS2}, maxEntryBytes+1)
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)/2]},
		{"corrupt body", append(append([]byte{}, good[:8]...), bytes.Repeat([]byte{0xff}, len(good)-8)...)},
		{"claims more than the limit", append(huge, s2.Encode(nil, []byte("{}"))...)},
		{"no body", []byte{entryS2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			res := s.applyLog(1, tc.data)
			err, ok := res.(error)
			if !ok || !errors.Is(err, ErrUnknownCommand) {
				t.Fatalf("got %T %v, want an error wrapping ErrUnknownCommand", res, res)
			}
			if s.AppliedIndex() != 1 || len(s.execs) != 0 {
				t.Fatalf("applied %d, executions %d: want 1 and none", s.AppliedIndex(), len(s.execs))
			}
		})
	}
}

// A submission rendered straight into the entry reads as its own encoding
// would; a time encoding/json cannot render is refused before proposing.
func TestSubmissionsRenderedIntoTheEntry(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	sub := &Command{Version: CommandVersion, Type: CmdSubmit, At: at, Submit: NewSubmitCmd(spec("a"))}
	other := Command{Version: CommandVersion, Type: CmdCancel, At: at, Key: new(key("b"))}
	rawSub, err := encodeCommand(sub)
	if err != nil {
		t.Fatal(err)
	}
	var back Command
	if err := json.Unmarshal(rawSub, &back); err != nil || !back.At.Equal(at) || back.Submit.Hash != sub.Submit.Hash || back.Submit.Spec.Name != "a" {
		t.Fatalf("encodeCommand %s decodes to %+v (%v)", rawSub, back, err)
	}
	rawOther, err := encodeCommand(&other)
	if err != nil {
		t.Fatal(err)
	}
	got := appendEntryBatch(nil, []json.RawMessage{nil, rawOther, nil}, []*Command{sub, nil, sub})
	want := encodeBatch([]json.RawMessage{rawSub, rawOther, rawSub})
	if !bytes.Equal(got, want) {
		t.Fatalf("rendered entry:\n%s\nwant:\n%s", got, want)
	}
	late := *sub
	late.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := checkRenderTime(&late); err == nil {
		t.Fatal("a year past 9999 was accepted")
	}
	if _, err := json.Marshal(late.At); err == nil {
		t.Fatal("encoding/json renders year 10000: the check is stricter than needed")
	}
}
