package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procGroup owns the processes the benchmark starts. It ends only those, each
// by its own process group, and nothing else on the machine.
type procGroup struct {
	mu    sync.Mutex
	procs []*proc
}

// proc is one started process with its log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	// done is closed once the process has exited and been reaped.
	done chan struct{}
}

// start runs bin with args in a process group of its own, its output in
// logPath. Pdeathsig is a backstop: if the benchmark itself is killed
// without a chance to clean up, the kernel kills the child too.
func (g *procGroup) start(name, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: create log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail returns the last n lines of the process's log, for error messages.
func (p *proc) logTail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// deadErr returns an error naming the first process of ps that has exited,
// with the end of its log, or nil while all run.
func deadErr(ps []*proc) error {
	for _, p := range ps {
		if p.exited() {
			return fmt.Errorf("%s exited early (%s); end of its log:\n%s", p.name, p.cmd.ProcessState, p.logTail(20))
		}
	}
	return nil
}

// stopAll sends SIGTERM to every process group it started, waits up to grace
// for them to exit, then SIGKILLs what is left and waits for it. Safe to call
// more than once.
func (g *procGroup) stopAll(grace time.Duration) {
	g.mu.Lock()
	ps := g.procs
	g.procs = nil
	g.mu.Unlock()
	for _, p := range ps {
		if !p.exited() {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
wait:
	for _, p := range ps {
		select {
		case <-p.done:
		case <-timer.C:
			break wait
		}
	}
	for _, p := range ps {
		if !p.exited() {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			// A process stuck in uninterruptible sleep: nothing more to do.
		}
	}
}

// freeAddrs returns n distinct free 127.0.0.1 ports. All listeners are held
// until every port is chosen so the same port is never handed out twice.
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// errNoRepo is returned when no go.mod is found above the working directory.
var errNoRepo = errors.New("cannot find the repository root (no go.mod above the working directory); pass --bin")

// repoBinDir returns <repo>/bin, <repo> being the first parent of the working
// directory with a go.mod.
func repoBinDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find bin dir: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoRepo
		}
		dir = parent
	}
}

// checkExecutable errors with how to get bin when it is missing.
func checkExecutable(bin, how string) error {
	fi, err := os.Stat(bin)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s not found or not executable: %s", bin, how)
	}
	return nil
}
