package raftstore

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Retention: an execution that has been terminal for longer than the
// retention period leaves the hot state (the execution map and every index
// the scheduler and the API walk) for the archive, where it is kept as
// compressed JSON. So the FSM's memory tracks the live queue and what ran
// recently, not the whole history, while every execution stays readable by
// key and submission stays idempotent by key. The archive is replicated
// state like the rest: only the archive command moves executions into it,
// and snapshots carry it.

// ArchiveCmd moves terminal executions to the archive (CmdArchive). An
// execution is moved only if it is terminal and its last change is at
// least Retention before the command's At, so the outcome depends on the
// command alone, never on a replica's clock; keys that do not qualify (or
// no longer exist) are skipped.
type ArchiveCmd struct {
	Keys      []v1.ExecutionKey `json:"keys"`
	Retention time.Duration     `json:"retention"`
}

// archiveEntry is one archived execution: its spec hash, kept apart so that
// a resubmission is checked without decompressing, and its JSON, deflated.
// Both are immutable once stored.
type archiveEntry struct {
	hash string
	z    []byte
}

// flateWriters recycles compressors: each one holds several hundred
// kilobytes of tables.
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, flate.BestSpeed) // BestSpeed is a valid level
	return w
}}

// encodeArchived renders e as deflated JSON.
func encodeArchived(e *v1.Execution) ([]byte, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode archived execution %s: %w", e.Key(), err)
	}
	var buf bytes.Buffer
	w := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(raw); err != nil {
		return nil, fmt.Errorf("compress archived execution %s: %w", e.Key(), err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress archived execution %s: %w", e.Key(), err)
	}
	return bytes.Clone(buf.Bytes()), nil
}

// decodeArchived reads an archive entry back into an execution.
func decodeArchived(z []byte) (*v1.Execution, error) {
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	if err != nil {
		return nil, fmt.Errorf("decompress archived execution: %w", err)
	}
	e := new(v1.Execution)
	if err := fastJSON.Unmarshal(raw, e); err != nil {
		return nil, fmt.Errorf("decode archived execution: %w", err)
	}
	return e, nil
}

// archivedLocked returns the archived execution with key k. Callers hold
// mu (read or write).
func (s *State) archivedLocked(k string) (*v1.Execution, bool) {
	a, ok := s.arch.get(k)
	if !ok {
		return nil, false
	}
	return mustDecodeArchived(k, a.z), true
}

// mustDecodeArchived decodes an archive entry that this binary wrote:
// failing to read it back is a bug, not an input error.
func mustDecodeArchived(k string, z []byte) *v1.Execution {
	e, err := decodeArchived(z)
	if err != nil {
		panic(fmt.Sprintf("archive entry %s: %v", k, err))
	}
	return e
}

func (s *State) applyArchive(c *Command) Result {
	a := c.Archive
	if a == nil {
		return invalidCmd(c, "no archive")
	}
	if a.Retention < 0 {
		return invalidCmd(c, "negative retention")
	}
	var recs []archiveRecord
	var moved []*v1.Execution
	for _, key := range a.Keys {
		k := key.String()
		e, ok := s.execs[k]
		if !ok || !e.Phase.Terminal() || c.At.Sub(e.UpdatedAt) < a.Retention {
			continue
		}
		z, err := encodeArchived(e)
		if err != nil {
			return Result{Err: fmt.Errorf("apply archive %s: %w", k, err)}
		}
		recs = append(recs, archiveRecord{Key: k, Hash: e.SpecHash, Z: z})
		moved = append(moved, e)
	}
	if len(recs) == 0 {
		return Result{}
	}
	// Stored first: an archive that cannot be written leaves every
	// execution where it was.
	if err := s.arch.put(recs); err != nil {
		return Result{Err: fmt.Errorf("apply archive: %w", err)}
	}
	for i, e := range moved {
		delete(s.execs, recs[i].Key)
		s.unindexExecution(recs[i].Key, e)
		s.inputs.release(e.Inputs)
	}
	s.dirty = true
	return Result{Archived: len(recs)}
}

// unindexExecution removes the terminal execution e, stored at k, from the
// indexes. A terminal execution is in neither the queue nor a live set, so
// no cluster's revision or count moves.
func (s *State) unindexExecution(k string, e *v1.Execution) {
	s.all.Delete(k)
	s.countProject(e.Project, -1)
	deleteFrom(s.byPhase, e.Phase, k)
	if e.Cluster != "" {
		deleteFrom(s.byCluster, e.Cluster, k)
	}
}

// ExpiredTerminal returns up to limit keys of executions that have been
// terminal for at least retention at time at: the candidates for an
// archive command. It walks only the terminal phases' indexes.
func (s *State) ExpiredTerminal(at time.Time, retention time.Duration, limit int) []v1.ExecutionKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []v1.ExecutionKey
	for _, p := range []v1.ExecutionPhase{v1.PhaseSucceeded, v1.PhaseFailed, v1.PhaseAborted} {
		s.byPhase[p].Ascend("", false, func(k string) bool {
			if e := s.execs[k]; at.Sub(e.UpdatedAt) >= retention {
				out = append(out, e.Key())
			}
			return limit <= 0 || len(out) < limit
		})
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// ArchivedCount returns how many executions the archive holds.
func (s *State) ArchivedCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.arch.count()
}

// ListArchived is ListExecutions over the archive: up to limit archived
// executions that match f, ordered by key, after the continue token. Each
// one is decompressed to be matched, so it costs more per item than a
// listing of the hot state; a project filter is matched on the key first.
func (s *State) ListArchived(f ExecutionFilter, limit int, after string) (items []v1.Execution, next string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	prefix := ""
	if f.Project != "" {
		prefix = f.Project + "/"
		if f.Domain != "" {
			prefix += f.Domain + "/"
		}
		if after < prefix {
			after = prefix
		}
	}
	err := s.arch.ascend(after, func(k string, a archiveEntry) bool {
		if !strings.HasPrefix(k, prefix) {
			return k < prefix // before the prefix: go on; past it: done
		}
		e := mustDecodeArchived(k, a.z)
		if !f.matches(e) {
			return true
		}
		if limit > 0 && len(items) == limit {
			next = items[len(items)-1].Key().String()
			return false
		}
		items = append(items, *e)
		return true
	})
	if err != nil {
		panic(fmt.Sprintf("list archive: %v", err)) // see mustDecodeArchived
	}
	return items, next
}

// archiveRecord is one archive entry in a snapshot, after the task cache
// records.
type archiveRecord struct {
	Key  string `json:"k"`
	Hash string `json:"h"`
	Z    []byte `json:"z"`
}

// writeArchive streams the archive records of v, one a line.
func writeArchive(enc *json.Encoder, v archiveView) error {
	return v.each(func(r *archiveRecord) error {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write snapshot archive %s: %w", r.Key, err)
		}
		return nil
	})
}

// restoreBatch is how many archive records a restore writes at a time.
const restoreBatch = 4096

// restoreArchive reads n archive records into stage, checking them
// against t, the state being restored.
func (t *State) restoreArchive(n int, readLine func(what string, v any) error, stage archiveStage) error {
	batch := make([]archiveRecord, 0, min(n, restoreBatch))
	seen := make(map[string]struct{}, len(batch))
	flush := func() error {
		if err := stage.put(batch); err != nil {
			return fmt.Errorf("restore snapshot archive: %w", err)
		}
		batch = batch[:0]
		clear(seen)
		return nil
	}
	for i := range n {
		var r archiveRecord
		if err := readLine(fmt.Sprintf("archive record %d of %d", i+1, n), &r); err != nil {
			return err
		}
		if r.Key == "" || len(r.Z) == 0 {
			return fmt.Errorf("restore snapshot archive record %d of %d: no key or no data", i+1, n)
		}
		if _, dup := seen[r.Key]; dup || stage.has(r.Key) {
			return fmt.Errorf("restore snapshot archive: %s twice", r.Key)
		}
		if _, hot := t.execs[r.Key]; hot {
			return fmt.Errorf("restore snapshot archive: %s both live and archived", r.Key)
		}
		seen[r.Key] = struct{}{}
		batch = append(batch, r)
		if len(batch) == restoreBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
