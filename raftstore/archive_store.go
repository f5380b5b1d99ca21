package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// The archive's entries live in an archiveStore: in memory for a bare
// State (tests, tools), and for a Node in a bbolt file beside the Raft log,
// so that history costs disk and the replica's memory tracks the hot state
// only. The file is derived state, like everything the FSM holds: a node
// starts it empty and fills it from its snapshot and log, so it needs no
// fsync and can never disagree with the replicated archive.

// archiveStore holds archive entries by key. Writes come from the FSM
// only (under State.mu); reads may run concurrently with them.
type archiveStore interface {
	get(k string) (archiveEntry, bool)
	put(recs []archiveRecord) error
	count() int
	// ascend calls fn for each entry in key order, from the first key
	// after after ("" for the first), until fn returns false. a.z is valid
	// only during the call.
	ascend(after string, fn func(k string, a archiveEntry) bool) error
	// view is a consistent copy of the store for a snapshot.
	view() (archiveView, error)
	// stage starts a replacement of the whole store (restore).
	stage() (archiveStage, error)
	close() error
}

// archiveView is a point-in-time view of the archive.
type archiveView interface {
	count() int
	each(fn func(r *archiveRecord) error) error
	release()
}

// archiveStage collects the entries of a replacement store; commit returns
// the store that replaces the old one.
type archiveStage interface {
	put(recs []archiveRecord) error
	has(k string) bool
	commit() (archiveStore, error)
	abort()
}

// memArchive is the archive in memory.
type memArchive struct {
	entries map[string]archiveEntry
	keys    *sortedSet[string]
}

func newMemArchive() *memArchive {
	return &memArchive{entries: map[string]archiveEntry{}, keys: newSortedSet(strings.Compare)}
}

func (m *memArchive) get(k string) (archiveEntry, bool) { a, ok := m.entries[k]; return a, ok }
func (m *memArchive) count() int                        { return len(m.entries) }
func (m *memArchive) close() error                      { return nil }

func (m *memArchive) put(recs []archiveRecord) error {
	for _, r := range recs {
		if _, ok := m.entries[r.Key]; !ok {
			m.keys.Insert(r.Key)
		}
		m.entries[r.Key] = archiveEntry{hash: r.Hash, z: r.Z}
	}
	return nil
}

func (m *memArchive) ascend(after string, fn func(k string, a archiveEntry) bool) error {
	m.keys.Ascend(after, after != "", func(k string) bool { return fn(k, m.entries[k]) })
	return nil
}

// view copies the entries' headers: entries are immutable once stored.
func (m *memArchive) view() (archiveView, error) {
	recs := make(memView, 0, len(m.entries))
	m.keys.Ascend("", false, func(k string) bool {
		a := m.entries[k]
		recs = append(recs, archiveRecord{Key: k, Hash: a.hash, Z: a.z})
		return true
	})
	return recs, nil
}

func (m *memArchive) stage() (archiveStage, error) { return memStage{newMemArchive()}, nil }

type memView []archiveRecord

func (v memView) count() int { return len(v) }
func (v memView) release()   {}
func (v memView) each(fn func(r *archiveRecord) error) error {
	for i := range v {
		if err := fn(&v[i]); err != nil {
			return err
		}
	}
	return nil
}

type memStage struct{ m *memArchive }

func (s memStage) put(recs []archiveRecord) error { return s.m.put(recs) }
func (s memStage) has(k string) bool              { _, ok := s.m.entries[k]; return ok }
func (s memStage) commit() (archiveStore, error)  { return s.m, nil }
func (s memStage) abort()                         {}

// boltArchive is the archive in a bbolt file. Each generation of the
// archive is a bucket of its own: a restore fills the next one while the
// current one serves reads, then drops the old one.
type boltArchive struct {
	db  *bbolt.DB
	gen uint64
	// name is gen's bucket.
	name []byte
	n    int
}

// archiveFile is the archive's file in a node's data folder.
const archiveFile = "archive.db"

// archiveMmapSize is the archive file's initial memory map: address space,
// not memory. bbolt must remap to grow past its map, and a remap waits for
// every read transaction, a snapshot streaming the archive among them;
// mapping ahead keeps archive writes from waiting on a snapshot.
const archiveMmapSize = 4 << 30

// openBoltArchive starts the archive of a node afresh in dir.
func openBoltArchive(dir string) (*boltArchive, error) {
	path := filepath.Join(dir, archiveFile)
	// Derived state: what the file held is rebuilt from the snapshot and
	// the log, and keeping it could keep entries the log no longer has.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reset archive: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         5 * time.Second,
		NoSync:          true,
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: archiveMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	a := &boltArchive{db: db, name: genBucket(0)}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket(a.bucket())
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open archive: %w", err)
	}
	return a, nil
}

func genBucket(gen uint64) []byte { return fmt.Appendf(nil, "archive-%d", gen) }

func (a *boltArchive) bucket() []byte { return a.name }

func (a *boltArchive) count() int   { return a.n }
func (a *boltArchive) close() error { return a.db.Close() }

// An entry is stored as its hash's length (one byte), the hash and the
// deflated JSON.
func encodeEntry(hash string, z []byte) []byte {
	v := make([]byte, 0, 1+len(hash)+len(z))
	v = append(v, byte(len(hash)))
	v = append(v, hash...)
	return append(v, z...)
}

func decodeEntry(v []byte) (archiveEntry, error) {
	if len(v) == 0 || len(v) < 1+int(v[0]) {
		return archiveEntry{}, errors.New("archive entry too short")
	}
	n := int(v[0])
	return archiveEntry{hash: string(v[1 : 1+n]), z: v[1+n:]}, nil
}

func (a *boltArchive) get(k string) (archiveEntry, bool) {
	if a.n == 0 {
		// Every new submission asks, in its handler and in the FSM of
		// every replica: with nothing archived, skip the read transaction.
		return archiveEntry{}, false
	}
	var e archiveEntry
	var found bool
	err := a.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(a.bucket()).Get([]byte(k))
		if v == nil {
			return nil
		}
		d, err := decodeEntry(v)
		if err != nil {
			return err
		}
		e, found = archiveEntry{hash: d.hash, z: bytes.Clone(d.z)}, true
		return nil
	})
	if err != nil {
		// Only this process wrote the file: not reading it back is a bug
		// or a failing disk, and either makes the archive unreliable.
		panic(fmt.Sprintf("archive %s: %v", k, err))
	}
	return e, found
}

func (a *boltArchive) put(recs []archiveRecord) error {
	added := 0
	err := a.db.Update(func(tx *bbolt.Tx) error {
		n, err := putRecords(tx.Bucket(a.bucket()), recs)
		added = n
		return err
	})
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	a.n += added
	return nil
}

// putRecords stores recs in b and returns how many keys are new.
func putRecords(b *bbolt.Bucket, recs []archiveRecord) (int, error) {
	added := 0
	for _, r := range recs {
		k := []byte(r.Key)
		if b.Get(k) == nil {
			added++
		}
		if err := b.Put(k, encodeEntry(r.Hash, r.Z)); err != nil {
			return 0, err
		}
	}
	return added, nil
}

func (a *boltArchive) ascend(after string, fn func(k string, a archiveEntry) bool) error {
	return a.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(a.bucket()).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && after != "" && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("archive %s: %w", k, err)
			}
			if !fn(string(k), e) {
				return nil
			}
		}
		return nil
	})
}

// view holds a read transaction until release: bbolt's MVCC keeps what it
// sees unchanged while the FSM archives more.
func (a *boltArchive) view() (archiveView, error) {
	tx, err := a.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("archive snapshot: %w", err)
	}
	return &boltView{tx: tx, bucket: a.bucket(), n: a.n}, nil
}

type boltView struct {
	tx     *bbolt.Tx
	bucket []byte
	n      int
}

func (v *boltView) count() int { return v.n }
func (v *boltView) release()   { _ = v.tx.Rollback() }
func (v *boltView) each(fn func(r *archiveRecord) error) error {
	c := v.tx.Bucket(v.bucket).Cursor()
	for k, val := c.First(); k != nil; k, val = c.Next() {
		e, err := decodeEntry(val)
		if err != nil {
			return fmt.Errorf("archive %s: %w", k, err)
		}
		if err := fn(&archiveRecord{Key: string(k), Hash: e.hash, Z: e.z}); err != nil {
			return err
		}
	}
	return nil
}

func (a *boltArchive) stage() (archiveStage, error) {
	next := &boltArchive{db: a.db, gen: a.gen + 1, name: genBucket(a.gen + 1)}
	if err := a.db.Update(func(tx *bbolt.Tx) error {
		if tx.Bucket(next.bucket()) != nil {
			if err := tx.DeleteBucket(next.bucket()); err != nil { // an aborted stage's
				return err
			}
		}
		_, err := tx.CreateBucket(next.bucket())
		return err
	}); err != nil {
		return nil, fmt.Errorf("restore archive: %w", err)
	}
	return &boltStage{old: a, next: next}, nil
}

type boltStage struct{ old, next *boltArchive }

func (s *boltStage) put(recs []archiveRecord) error { return s.next.put(recs) }

func (s *boltStage) has(k string) bool { return s.next.has(k) }

// has reports whether k is archived, without copying its entry out.
func (a *boltArchive) has(k string) bool {
	found := false
	_ = a.db.View(func(tx *bbolt.Tx) error {
		found = tx.Bucket(a.bucket()).Get([]byte(k)) != nil
		return nil
	})
	return found
}

func (s *boltStage) commit() (archiveStore, error) {
	if err := s.old.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(s.old.bucket()) }); err != nil {
		return nil, fmt.Errorf("restore archive: drop the old archive: %w", err)
	}
	return s.next, nil
}

func (s *boltStage) abort() {
	_ = s.old.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(s.next.bucket()) })
}
