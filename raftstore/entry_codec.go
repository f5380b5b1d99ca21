package raftstore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// A log entry is either the batch envelope's JSON as is, which starts with
// '{', or entryS2 followed by that JSON compressed as one S2 block.
//
// Batches of submissions are mostly the same workflow over and over, so S2
// shrinks them about tenfold (677 bytes a three-node submission down to
// about 65 in a batch of 64) for about 0.1 µs a command each way. Every
// byte of an entry is written by each replica's bolt commit, sent to each
// follower, held in the log cache and, through bolt's memory map, in each
// replica's resident memory until the log is compacted.
//
// Entries written by this version need it to apply them: upgrade followers
// before the leader, as a rolling upgrade does anyway.
const (
	entryS2 byte = 0x01
	// compressMin is the size below which an entry is stored as is: a lone
	// heartbeat gains nothing from compression.
	compressMin = 512
	// maxEntryBytes bounds what a compressed entry may claim to expand to,
	// so a corrupt length cannot make a replica allocate without bound.
	// Group commit caps an entry at DefaultMaxBatch commands of at most a
	// few hundred KiB each (the API's body limit).
	maxEntryBytes = 1 << 30
)

var errEntryTooLarge = errors.New("compressed log entry expands past the limit")

// packEntry returns the log entry for a batch envelope's JSON, in an
// array of its own: the entry lives on in the log cache and in raft's
// queues, while plain may be reused as soon as packEntry returns.
//
// S2 needs an output buffer of about the plain size, ten times the entry's:
// the entry is copied out of a pooled one, or its array would keep that
// much memory for as long as the log cache holds the entry (hundreds of
// MiB at full speed, counted against the memory limit).
func packEntry(plain []byte) []byte {
	if len(plain) < compressMin {
		out := make([]byte, len(plain))
		copy(out, plain)
		return out
	}
	need := 1 + s2.MaxEncodedLen(len(plain))
	bp := packBufs.Get().(*[]byte)
	defer packBufs.Put(bp)
	if cap(*bp) < need {
		*bp = make([]byte, need)
	}
	// Encode writes into buf[1:], which is long enough.
	enc := s2.Encode((*bp)[1:need], plain)
	out := make([]byte, 1+len(enc))
	out[0] = entryS2
	copy(out[1:], enc)
	return out
}

// packBufs holds S2's output buffers for packEntry, and batchBufs the
// batch envelopes the batcher encodes before packing them.
var (
	packBufs  = sync.Pool{New: func() any { return new([]byte) }}
	batchBufs = sync.Pool{New: func() any { return new([]byte) }}
)

// entryBufs holds buffers for decompressed entries: the FSM decodes an
// entry into fresh values and keeps nothing that points into it.
var entryBufs = sync.Pool{New: func() any { return new([]byte) }}

// unpackEntry returns the batch envelope's JSON of a log entry and a
// function that releases the buffer it may live in; the caller must not
// use the bytes after calling it.
func unpackEntry(data []byte) ([]byte, func(), error) {
	if len(data) == 0 || data[0] != entryS2 {
		return data, func() {}, nil
	}
	n, err := s2.DecodedLen(data[1:])
	if err != nil {
		return nil, nil, fmt.Errorf("decompress log entry: %w", err)
	}
	if n > maxEntryBytes {
		return nil, nil, fmt.Errorf("decompress log entry: %w (%d bytes)", errEntryTooLarge, n)
	}
	bp := entryBufs.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	plain, err := s2.Decode((*bp)[:cap(*bp)], data[1:])
	if err != nil {
		entryBufs.Put(bp)
		return nil, nil, fmt.Errorf("decompress log entry: %w", err)
	}
	return plain, func() { entryBufs.Put(bp) }, nil
}
