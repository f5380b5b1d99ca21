package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// fedSubmitter posts executions to one replica over plain HTTP/1.1: one
// keep-alive connection per client, each request written from a template
// and each answer parsed by net/http but not decoded. Client and servers
// share two cores, so every microsecond the client spends is taken from
// the system under test: net/http's client Transport (two goroutines and
// channel hand-offs per connection) cost about a fifth of the whole run's
// CPU. The etcd side uses etcd's own gRPC client, built for the same.
type fedSubmitter struct {
	host, path string
	run        string
	// project and domain are the template's, for the keys in errors.
	project, domain string
	// body is the JSON of the run's spec split around its name.
	prefix, suffix []byte
	conns          chan *fedConn
}

type fedConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

// statusError is an answer other than 201 Created or 200 OK.
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// namePlaceholder stands for the execution name in the body template.
const namePlaceholder = "@@name@@"

func newFedSubmitter(baseURL, run string, clients int) *fedSubmitter {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "http" {
		panic(fmt.Sprintf("fedSubmitter: %q is not an http:// URL", baseURL)) // built from our own listen address
	}
	spec := benchSpec(run, 0)
	spec.Name = namePlaceholder
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err) // a fixed value of the API type
	}
	prefix, suffix, ok := bytes.Cut(b, []byte(namePlaceholder))
	if !ok {
		panic("fedSubmitter: no name in the spec template")
	}
	return &fedSubmitter{
		host: u.Host, path: v1.APIPrefix + "/executions", run: run, project: spec.Project, domain: spec.Domain,
		prefix: prefix, suffix: suffix,
		conns: make(chan *fedConn, clients),
	}
}

// request renders the request of submission seq into buf.
func (s *fedSubmitter) request(buf []byte, seq uint64) (v1.ExecutionKey, []byte) {
	name := benchName(s.run, seq)
	n := len(s.prefix) + len(name) + len(s.suffix)
	buf = append(buf[:0], "POST "...)
	buf = append(buf, s.path...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, s.host...)
	buf = append(buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	buf = strconv.AppendInt(buf, int64(n), 10)
	buf = append(buf, "\r\n\r\n"...)
	buf = append(buf, s.prefix...)
	buf = append(buf, name...)
	buf = append(buf, s.suffix...)
	return v1.ExecutionKey{Project: s.project, Domain: s.domain, Name: name}, buf
}

func (s *fedSubmitter) conn(ctx context.Context) (*fedConn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	default:
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", s.host)
	if err != nil {
		return nil, err
	}
	return &fedConn{c: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

// release keeps a healthy connection for the next submission.
func (s *fedSubmitter) release(c *fedConn) {
	select {
	case s.conns <- c:
	default:
		_ = c.c.Close()
	}
}

func (s *fedSubmitter) submit(ctx context.Context, seq uint64) error {
	c, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("submit %d: %w", seq, err)
	}
	key, req := s.request(c.buf, seq)
	c.buf = req
	status, msg, keep, err := c.roundTrip(ctx, req)
	if err != nil {
		_ = c.c.Close()
		return fmt.Errorf("submit %s: %w", key, err)
	}
	if keep {
		s.release(c)
	} else {
		_ = c.c.Close()
	}
	if status == http.StatusCreated || status == http.StatusOK {
		return nil
	}
	return fmt.Errorf("submit %s: %w", key, &statusError{Status: status, Body: string(bytes.TrimSpace(msg))})
}

// roundTrip writes req and reads the answer: its status, the start of its
// body when it is an error, and whether the connection may be reused.
func (c *fedConn) roundTrip(ctx context.Context, req []byte) (status int, msg []byte, keep bool, err error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.c.SetDeadline(dl)
	} else {
		_ = c.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.c.Write(req); err != nil {
		return 0, nil, false, err
	}
	if status, keep, ok, err := c.readPlain(); err != nil {
		return 0, nil, false, err
	} else if ok {
		if ctx.Err() != nil {
			keep = false // the deadline may have cut the connection
		}
		return status, nil, keep, nil
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, nil, false, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		msg, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
	}
	// Drain the body so the next answer starts where this one ends.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, nil, false, fmt.Errorf("read answer: %w", err)
	}
	_ = resp.Body.Close()
	if ctx.Err() != nil {
		return resp.StatusCode, msg, false, nil // the deadline may have cut the connection
	}
	return resp.StatusCode, msg, !resp.Close, nil
}

// readPlain reads a plain success answer, the kind the server gives every
// accepted submission: "HTTP/1.1 201" or "200", a Content-Length, no
// Connection or Transfer-Encoding header, all of it in one buffer. It
// consumes nothing and reports !ok for anything else, which
// http.ReadResponse then reads: errors, chunked bodies, a closing server,
// a head split across reads. err is a failure past the head. Reading by
// hand took the client's CPU per submission at 128 clients from 16.0 to
// 14.4 µs (pprof): http.ReadResponse builds a header map and a body reader
// per answer.
func (c *fedConn) readPlain() (status int, keep, ok bool, err error) {
	// Peek waits for the first bytes; the rest of a small answer comes
	// in the same segment.
	if _, err := c.r.Peek(1); err != nil {
		return 0, false, false, err
	}
	b, _ := c.r.Peek(c.r.Buffered())
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, false, false, nil
	}
	head := b[:end+2]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	switch {
	case bytes.HasPrefix(line, []byte("HTTP/1.1 201 ")):
		status = http.StatusCreated
	case bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")):
		status = http.StatusOK
	default:
		return 0, false, false, nil
	}
	length := -1
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, found := bytes.Cut(h, []byte(":"))
		if !found {
			return 0, false, false, nil
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 || length >= 0 {
				return 0, false, false, nil
			}
			length = n
		case bytes.EqualFold(name, []byte("Connection")), bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, false, false, nil
		}
	}
	if length < 0 {
		return 0, false, false, nil
	}
	// The head is buffered; the body may still be on its way.
	if _, err := c.r.Discard(end + 4 + length); err != nil {
		return 0, false, false, fmt.Errorf("read answer: %w", err)
	}
	return status, true, true, nil
}

// close drops the submitter's idle connections.
func (s *fedSubmitter) close() {
	for {
		select {
		case c := <-s.conns:
			_ = c.c.Close()
		default:
			return
		}
	}
}
