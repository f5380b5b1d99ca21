package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a component gets to exit after SIGTERM before its
// process group is killed.
const stopGrace = 10 * time.Second

// process is one component binary running in its own process group, its
// stdout and stderr in a log file (and optionally copied to a shared writer).
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // set before done is closed
}

// startProcess starts bin with args, logging to dir/<name>.log. The child gets
// its own process group (so stop reaches anything it spawns, and only that)
// and SIGKILL if the test binary dies first, so a killed `go test` leaves no
// component behind.
func startProcess(name, bin string, args, env []string, logDir string, extra io.Writer) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out io.Writer = logFile
	if extra != nil {
		out = io.MultiWriter(logFile, extra)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := Spawn(cmd); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: logFile, done: make(chan struct{})}
	// This goroutine is owned by p: it ends when the process exits, which
	// stop guarantees.
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after stopGrace. It
// signals only the group this process leads, never anything by name.
func (p *process) stop() error {
	defer p.logFile.Close()
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", p.name, pgid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", p.name, pgid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
		return fmt.Errorf("kill %s (pid %d): still running after SIGKILL", p.name, pgid)
	}
}

// tail returns the last n lines of the process's log, for error messages.
func (p *process) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls check until it succeeds, the process exits, timeout passes
// or ctx ends. Its errors name the component and carry its log's tail.
func (p *process) waitReady(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if p.exited() {
			return &componentError{name: p.name, msg: fmt.Sprintf("exited before ready (%v)", p.waitErr), log: p.tail(30)}
		}
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return &componentError{name: p.name, msg: fmt.Sprintf("not ready after %s: %v", timeout, last), log: p.tail(30)}
		case <-p.done:
		case <-tick.C:
		}
	}
}

// componentError is a component that failed to start, with its log's tail.
type componentError struct {
	name, msg, log string
}

func (e *componentError) Error() string {
	return fmt.Sprintf("%s %s; last log lines:\n%s", e.name, e.msg, e.log)
}

// prefixWriter copies whole lines to w, each prefixed, under a lock shared by
// all components of all clusters so lines never interleave.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf.Write(b)
	for {
		i := bytes.IndexByte(pw.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := pw.buf.Next(i + 1)
		// A failing log sink must not stop the component: drop the line.
		_, _ = io.WriteString(pw.w, pw.prefix)
		_, _ = pw.w.Write(line)
	}
	return len(b), nil
}

// spawner forks every component from one OS thread that never exits.
// Pdeathsig fires when the *thread* that forked a child ends, not the
// process; Go ends threads whose goroutine exits while locked to them (as
// network-namespace code does on purpose), and any thread may later be
// taken by such a goroutine. A thread locked forever to this goroutine is
// never handed out, so children die only with the test binary. The goroutine
// lives as long as the process, like the runtime's own.
var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// Spawn starts cmd on the spawner thread, so that a child started with
// Pdeathsig dies with the test binary and not with some Go thread. Other
// test harnesses that start processes use it too: one such thread serves
// the whole test binary.
func Spawn(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: see spawner
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

// logsMu serialises writes to every ClusterOptions.Logs.
var logsMu sync.Mutex
