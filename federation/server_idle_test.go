package federation

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIdleConnectionsAreClosed: a keep-alive connection that sends no next
// request is closed after IdleTimeout, one that keeps asking is not.
func TestIdleConnectionsAreClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	r := startReplica(t, "r1", filepath.Join(t.TempDir(), "r1"), true, func(c *Config) { c.IdleTimeout = idle })
	addr := strings.TrimPrefix(r.url, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func() error {
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	// Busy: requests closer together than the timeout, over more than it.
	for range 5 {
		if err := get(); err != nil {
			t.Fatalf("request on a busy connection: %v", err)
		}
		time.Sleep(idle / 3)
	}
	// Idle: the server closes its end within the timeout and a margin.
	_ = conn.SetReadDeadline(time.Now().Add(idle + 5*time.Second))
	start := time.Now()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %v, want EOF from the server closing it", err)
	}
	if took := time.Since(start); took < idle/2 {
		t.Fatalf("closed after %v, before the idle timeout %v", took, idle)
	}
}

func TestIdleTimeoutMustBePositive(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "idle timeout") {
		t.Fatalf("Validate() = %v, want an error about the idle timeout", err)
	}
}
