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

// archiveState is the archive: entries by key string, and the keys in
// order for listing.
type archiveState struct {
	entries map[string]archiveEntry
	keys    *sortedSet[string]
}

func newArchiveState() archiveState {
	return archiveState{entries: map[string]archiveEntry{}, keys: newSortedSet(strings.Compare)}
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
	a, ok := s.arch.entries[k]
	if !ok {
		return nil, false
	}
	e, err := decodeArchived(a.z)
	if err != nil {
		// Only this binary wrote these bytes; failing to read them back is
		// a bug, not an input error.
		panic(fmt.Sprintf("archive entry %s: %v", k, err))
	}
	return e, true
}

func (s *State) applyArchive(c *Command) Result {
	a := c.Archive
	if a == nil {
		return invalidCmd(c, "no archive")
	}
	if a.Retention < 0 {
		return invalidCmd(c, "negative retention")
	}
	n := 0
	for _, key := range a.Keys {
		k := key.String()
		e, ok := s.execs[k]
		if !ok || !e.Phase.Terminal() || c.At.Sub(e.UpdatedAt) < a.Retention {
			continue
		}
		z, err := encodeArchived(e)
		if err != nil {
			return Result{Err: fmt.Errorf("apply archive %s: %w", k, err), Archived: n}
		}
		s.arch.entries[k] = archiveEntry{hash: e.SpecHash, z: z}
		s.arch.keys.Insert(k)
		delete(s.execs, k)
		s.unindexExecution(k, e)
		n++
	}
	if n > 0 {
		s.dirty = true
	}
	return Result{Archived: n}
}

// unindexExecution removes the terminal execution e, stored at k, from the
// indexes. A terminal execution is in neither the queue nor a live set, so
// no cluster's revision or count moves.
func (s *State) unindexExecution(k string, e *v1.Execution) {
	s.all.Delete(k)
	deleteFrom(s.byProject, e.Project, k)
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
	return len(s.arch.entries)
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
	s.arch.keys.Ascend(after, after != "", func(k string) bool {
		if !strings.HasPrefix(k, prefix) {
			return k < prefix // before the prefix: go on; past it: done
		}
		e, _ := s.archivedLocked(k)
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
	return items, next
}

// archiveRecord is one archive entry in a snapshot, after the task cache
// records.
type archiveRecord struct {
	Key  string `json:"k"`
	Hash string `json:"h"`
	Z    []byte `json:"z"`
}

// snapshotArchiveLocked captures the archive in key order. Entries are
// immutable, so copying them is enough. Callers hold mu.
func (s *State) snapshotArchiveLocked() []archiveRecord {
	out := make([]archiveRecord, 0, len(s.arch.entries))
	s.arch.keys.Ascend("", false, func(k string) bool {
		a := s.arch.entries[k]
		out = append(out, archiveRecord{Key: k, Hash: a.hash, Z: a.z})
		return true
	})
	return out
}

// writeArchive streams the archive records, one a line.
func writeArchive(enc *json.Encoder, recs []archiveRecord) error {
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return fmt.Errorf("write snapshot archive %s: %w", recs[i].Key, err)
		}
	}
	return nil
}

// restoreArchive reads n archive records into t's archive.
func (t *State) restoreArchive(n int, readLine func(what string, v any) error) error {
	for i := range n {
		var r archiveRecord
		if err := readLine(fmt.Sprintf("archive record %d of %d", i+1, n), &r); err != nil {
			return err
		}
		if r.Key == "" || len(r.Z) == 0 {
			return fmt.Errorf("restore snapshot archive record %d of %d: no key or no data", i+1, n)
		}
		if _, dup := t.arch.entries[r.Key]; dup {
			return fmt.Errorf("restore snapshot archive: %s twice", r.Key)
		}
		if _, hot := t.execs[r.Key]; hot {
			return fmt.Errorf("restore snapshot archive: %s both live and archived", r.Key)
		}
		t.arch.entries[r.Key] = archiveEntry{hash: r.Hash, z: r.Z}
		t.arch.keys.Insert(r.Key)
	}
	return nil
}
