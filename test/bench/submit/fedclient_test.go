package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// cannedServer answers each request on each connection with the next of
// answers, written in the given pieces, after reading the request whole.
func cannedServer(t *testing.T, answers [][]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		next := 0
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(c)
			for next < len(answers) {
				req, err := http.ReadRequest(r)
				if err != nil {
					break
				}
				_, _ = io.Copy(io.Discard, req.Body)
				for _, piece := range answers[next] {
					_, _ = c.Write([]byte(piece))
					time.Sleep(2 * time.Millisecond) // separate segments
				}
				next++
			}
			_ = c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestFedSubmitterAnswers(t *testing.T) {
	const plain = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 5\r\nDate: x\r\n\r\n{}\n\n\n"
	tests := []struct {
		name    string
		answers [][]string
		// want is, per submission, "" for success or a substring of the error.
		want []string
		// conns is how many connections the submitter should have opened.
		conns int
	}{
		{"plain answers reuse one connection", [][]string{{plain}, {plain}, {plain}}, []string{"", "", ""}, 1},
		{"200 for a repeated submission", [][]string{{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"}, {plain}}, []string{"", ""}, 1},
		{"body in a later segment", [][]string{{"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\n{", "}\n\n"}, {plain}}, []string{"", ""}, 1},
		{"head split across segments", [][]string{{"HTTP/1.1 201 Created\r\nContent-Le", "ngth: 2\r\n\r\n{}"}, {plain}}, []string{"", ""}, 1},
		{"chunked body", [][]string{{"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"}, {plain}}, []string{"", ""}, 1},
		{"refusal keeps its message", [][]string{{"HTTP/1.1 409 Conflict\r\nContent-Length: 17\r\n\r\n{\"error\":\"taken\"}"}, {plain}}, []string{"HTTP 409: {\"error\":\"taken\"}", ""}, 1},
		{"closing server", [][]string{{"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"}, {plain}}, []string{"", ""}, 2},
		{"short body", [][]string{{"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n{}"}}, []string{"read answer"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := cannedServer(t, tc.answers)
			s := newFedSubmitter(url, "run", 1)
			defer s.close()
			dials := 0
			for i, want := range tc.want {
				if len(s.conns) == 0 {
					dials++
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := s.submit(ctx, uint64(i))
				cancel()
				switch {
				case want == "" && err != nil:
					t.Fatalf("submission %d: %v", i, err)
				case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Fatalf("submission %d: error %v, want one with %q", i, err, want)
				}
				var se *statusError
				if want != "" && strings.HasPrefix(want, "HTTP") && !errors.As(err, &se) {
					t.Fatalf("submission %d: %v is not a statusError", i, err)
				}
			}
			if dials != tc.conns {
				t.Errorf("opened %d connections, want %d", dials, tc.conns)
			}
		})
	}
}
