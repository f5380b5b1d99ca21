package raftstore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	jsoniter "github.com/json-iterator/go"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Snapshots hold one JSON document a line. Encoding and decoding a million
// executions is most of the work of a snapshot, so both run on every core in
// chunks, while the order of records (and so the bytes of the snapshot)
// stays what a plain sequential encoder would write. Records are written by
// encoding/json.

// fastJSON decodes log entries and snapshot records. It reads what
// encoding/json wrote exactly as encoding/json would (the FSM and snapshot
// round-trip tests hold it to that) in about half the time; decoding was
// the largest CPU cost of both applying commands and restoring a million
// executions. Everything is still encoded by encoding/json.
//
// It is this package's own configuration (jsoniter's are shared by every
// user of the module): workflows decode through the spec pool
// (dag_json.go).
var fastJSON = func() jsoniter.API {
	api := jsoniter.Config{EscapeHTML: true, SortMapKeys: true, ValidateJsonRawMessage: true}.Froze()
	api.RegisterExtension(&dagJSONExtension{})
	return api
}()

// codecChunk is how many executions one worker encodes or decodes at a time.
const codecChunk = 1024

func codecWorkers() int { return max(1, runtime.GOMAXPROCS(0)) }

// encodedChunk is the outcome of encoding or decoding one chunk.
type encodedChunk struct {
	buf   *bytes.Buffer
	execs []*v1.Execution
	err   error
}

// chunkBuffers recycles encoding buffers: a chunk is about a megabyte, and
// growing a fresh buffer for each one spent a fifth of the CPU of writing a
// large snapshot zeroing memory.
var chunkBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeExecutions writes execs, one JSON line each, in order.
func writeExecutions(w io.Writer, execs []*v1.Execution) error {
	return orderedPipeline(
		func(emit func(func() encodedChunk) bool) {
			for i := 0; i < len(execs); i += codecChunk {
				part := execs[i:min(i+codecChunk, len(execs))]
				if !emit(func() encodedChunk {
					buf := chunkBuffers.Get().(*bytes.Buffer)
					buf.Reset()
					enc := json.NewEncoder(buf)
					for _, e := range part {
						if err := enc.Encode(e); err != nil {
							chunkBuffers.Put(buf)
							return encodedChunk{err: fmt.Errorf("encode execution %s: %w", e.Key(), err)}
						}
					}
					return encodedChunk{buf: buf}
				}) {
					return
				}
			}
		},
		func(c encodedChunk) error {
			_, err := w.Write(c.buf.Bytes())
			chunkBuffers.Put(c.buf)
			return err
		})
}

// readExecutions reads n execution lines from r and passes them, in order,
// to add.
func readExecutions(r *bufio.Reader, n int, add func(*v1.Execution) error) error {
	var readErr error
	err := orderedPipeline(
		func(emit func(func() encodedChunk) bool) {
			for read := 0; read < n; {
				lines := make([][]byte, 0, min(codecChunk, n-read))
				for len(lines) < cap(lines) {
					line, err := r.ReadBytes('\n')
					if err != nil && (err != io.EOF || len(line) == 0) {
						if err == io.EOF {
							err = io.ErrUnexpectedEOF
						}
						readErr = fmt.Errorf("execution %d of %d: %w", read+len(lines)+1, n, err)
						return
					}
					lines = append(lines, line)
				}
				first := read
				read += len(lines)
				if !emit(func() encodedChunk {
					execs := make([]*v1.Execution, len(lines))
					for i, line := range lines {
						e := new(v1.Execution)
						if err := fastJSON.Unmarshal(line, e); err != nil {
							return encodedChunk{err: fmt.Errorf("execution %d of %d: %w", first+i+1, n, err)}
						}
						shareSpec(&e.ExecutionSpec)
						execs[i] = e
					}
					return encodedChunk{execs: execs}
				}) {
					return
				}
			}
		},
		func(c encodedChunk) error {
			for _, e := range c.execs {
				if err := add(e); err != nil {
					return err
				}
			}
			return nil
		})
	return errors.Join(err, readErr)
}

// orderedPipeline runs the jobs that produce emits on all cores and hands
// their results to consume in the order they were emitted. produce stops
// when emit returns false (consume failed). It returns the first error of a
// job or of consume.
func orderedPipeline(produce func(emit func(func() encodedChunk) bool), consume func(encodedChunk) error) error {
	workers := codecWorkers()
	type job struct {
		run func() encodedChunk
		out chan encodedChunk
	}
	jobs := make(chan job, workers)
	order := make(chan chan encodedChunk, 2*workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- j.run()
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		produce(func(run func() encodedChunk) bool {
			out := make(chan encodedChunk, 1)
			select {
			case order <- out:
			case <-stop:
				return false
			}
			select {
			case jobs <- job{run, out}:
				return true
			case <-stop:
				return false
			}
		})
	}()
	var err error
	for out := range order {
		if err != nil {
			continue // drain, so the producer can finish
		}
		c := <-out
		if c.err != nil {
			err = c.err
		} else {
			err = consume(c)
		}
		if err != nil {
			close(stop)
		}
	}
	wg.Wait()
	return err
}
