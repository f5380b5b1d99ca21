package raftstore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"

	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/s2"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// snapshotFormat is the version of the snapshot stream. Restore refuses
// others rather than guess.
const snapshotFormat = 1

// snapshotHeader is the first record of a snapshot: the scalar state and how
// many cluster and execution records follow, in that order. Indexes are not
// stored; Restore rebuilds them from the records.
type snapshotHeader struct {
	Format     int               `json:"format"`
	Applied    uint64            `json:"applied"`
	Seq        uint64            `json:"seq"`
	RevCounter uint64            `json:"revCounter"`
	Revisions  map[string]uint64 `json:"revisions"`
	Members    map[string]string `json:"members"`
	Clusters   int               `json:"clusters"`
	Executions int               `json:"executions"`
	// CacheEntries and CacheClaims count the task cache records that
	// follow the executions (state_cache.go).
	CacheEntries int `json:"cacheEntries,omitempty"`
	CacheClaims  int `json:"cacheClaims,omitempty"`
	// Archived counts the archive records that follow the task cache
	// (state_archive.go).
	Archived int `json:"archived,omitempty"`
}

// stateSnapshot is a point-in-time view of the state. Because stored
// versions are never mutated, holding their pointers is enough: commands
// applied meanwhile replace entries of the live maps, not these values.
type stateSnapshot struct {
	header   snapshotHeader
	clusters []*v1.Cluster
	execs    []*v1.Execution
	cache    cacheSnapshot
	archive  archiveView
}

// snapshot captures the state. It copies pointers only, under the read
// lock.
func (s *State) snapshot() (*stateSnapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := &stateSnapshot{
		header: snapshotHeader{
			Format:     snapshotFormat,
			Applied:    s.applied,
			Seq:        s.seq,
			RevCounter: s.revCounter,
			Revisions:  maps.Clone(s.revisions),
			Members:    maps.Clone(s.members),
			Clusters:   len(s.clusters),
			Executions: len(s.execs),
		},
		clusters: make([]*v1.Cluster, 0, len(s.clusters)),
		execs:    make([]*v1.Execution, 0, len(s.execs)),
	}
	for _, c := range s.clusters {
		snap.clusters = append(snap.clusters, c)
	}
	sort.Slice(snap.clusters, func(i, j int) bool { return snap.clusters[i].Name < snap.clusters[j].Name })
	s.all.Ascend("", false, func(k string) bool {
		snap.execs = append(snap.execs, s.execs[k])
		return true
	})
	snap.cache = s.snapshotCacheLocked()
	snap.header.CacheEntries, snap.header.CacheClaims = len(snap.cache.entries), len(snap.cache.claims)
	archive, err := s.arch.view()
	if err != nil {
		return nil, err
	}
	snap.archive = archive
	snap.header.Archived = archive.count()
	return snap, nil
}

// write streams the snapshot record by record, one JSON document a line,
// so memory stays flat however many executions there are.
func (snap *stateSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(&snap.header); err != nil {
		return fmt.Errorf("write snapshot header: %w", err)
	}
	for _, c := range snap.clusters {
		if err := enc.Encode(c); err != nil {
			return fmt.Errorf("write snapshot cluster %s: %w", c.Name, err)
		}
	}
	if err := writeExecutions(bw, snap.execs); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := snap.cache.write(enc); err != nil {
		return err
	}
	if err := writeArchive(enc, snap.archive); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// Persist implements raft.FSMSnapshot. The stream is S2-compressed: a
// snapshot is mostly the same workflows over and over, so it shrinks about
// tenfold, which is what a follower that needs it is sent and what a restart
// reads.
func (snap *stateSnapshot) Persist(sink raft.SnapshotSink) error {
	zw := s2.NewWriter(sink)
	err := snap.write(zw)
	if err == nil {
		err = zw.Close() // flushes; does not close the sink
	}
	if err != nil {
		return errors.Join(err, sink.Cancel())
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot sink: %w", err)
	}
	return nil
}

// Release implements raft.FSMSnapshot.
func (snap *stateSnapshot) Release() { snap.archive.release() }

// restore replaces the whole state with the snapshot read from r. It builds
// the new state aside, so reads go on against the old one until the swap.
func (s *State) restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	// Persist writes an S2 stream, which opens with a 0xff chunk; snapshots
	// written before that are plain JSON lines, which open with '{'.
	if first, err := br.Peek(1); err == nil && first[0] == 0xff {
		br = bufio.NewReaderSize(s2.NewReader(br), 1<<20)
	}
	readLine := func(what string, v any) error {
		line, err := br.ReadBytes('\n')
		if err != nil && (err != io.EOF || len(line) == 0) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("restore snapshot %s: %w", what, err)
		}
		if err := json.Unmarshal(line, v); err != nil {
			return fmt.Errorf("restore snapshot %s: %w", what, err)
		}
		return nil
	}
	var h snapshotHeader
	if err := readLine("header", &h); err != nil {
		return err
	}
	if h.Format != snapshotFormat {
		return fmt.Errorf("restore snapshot: format %d, want %d", h.Format, snapshotFormat)
	}
	t := NewState()
	t.applied, t.seq, t.revCounter = h.Applied, h.Seq, h.RevCounter
	if h.Revisions != nil {
		t.revisions = h.Revisions
	}
	if h.Members != nil {
		t.members = h.Members
	}
	for i := 0; i < h.Clusters; i++ {
		c := new(v1.Cluster)
		if err := readLine(fmt.Sprintf("cluster %d of %d", i+1, h.Clusters), c); err != nil {
			return err
		}
		if c.Name == "" {
			return fmt.Errorf("restore snapshot cluster %d of %d: no name", i+1, h.Clusters)
		}
		t.clusters[c.Name] = c
	}
	err := readExecutions(br, h.Executions, func(e *v1.Execution) error {
		k := e.Key().String()
		if _, dup := t.execs[k]; dup {
			return fmt.Errorf("execution %s twice", k)
		}
		e.Inputs = t.inputs.acquire(e.Inputs)
		t.execs[k] = e
		t.indexExecution(k, nil, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := t.restoreCache(h.CacheEntries, h.CacheClaims, readLine); err != nil {
		return err
	}
	stage, err := s.arch.stage()
	if err != nil {
		return err
	}
	if err := t.restoreArchive(h.Archived, readLine, stage); err != nil {
		stage.abort()
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Under the lock: committing drops the old archive, which readers of
	// the old state may be reading.
	arch, err := stage.commit()
	if err != nil {
		stage.abort()
		return err
	}
	s.execs, s.seq = t.execs, t.seq
	s.all, s.byPhase, s.projects, s.byCluster, s.live, s.queue = t.all, t.byPhase, t.projects, t.byCluster, t.live, t.queue
	s.assignedByTime, s.inputs = t.assignedByTime, t.inputs
	s.clusters, s.revisions, s.revCounter = t.clusters, t.revisions, t.revCounter
	s.members, s.applied = t.members, t.applied
	s.cache = t.cache
	s.arch = arch
	s.wakeLocked(true)
	return nil
}
