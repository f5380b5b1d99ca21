package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// point is one client count measured against both systems.
type point struct {
	Clients int
	// Fed and Etcd are each system's median run.
	Fed  result
	Etcd result
	// FedRuns and EtcdRuns are every run's ops/s, in the order they ran.
	FedRuns, EtcdRuns []float64
}

// Ratio is federation throughput over etcd's, or 0 when etcd did nothing.
func (p point) Ratio() float64 {
	if e := p.Etcd.OpsPerSec(); e > 0 {
		return p.Fed.OpsPerSec() / e
	}
	return 0
}

// machine describes where and how the figures were taken.
type machine struct {
	NumCPU      int
	GOMAXPROCS  int
	GoVersion   string
	CPUModel    string
	DataFS      string
	EtcdVersion string
	// LoadAvg is /proc/loadavg when the run started: other work on a shared
	// machine shows up here.
	LoadAvg  string
	Duration time.Duration
	Warmup   time.Duration
	When     time.Time
	// FedMemoryLimit is each federation replica's --memory-limit ("" for
	// none).
	FedMemoryLimit string
	// Runs is how many times each point was measured.
	Runs int
}

func probeMachine(dataRoot, etcdVer string, duration, warmup time.Duration) machine {
	return machine{
		NumCPU:      runtime.NumCPU(),
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		GoVersion:   runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:    cpuModel(),
		DataFS:      fsType(dataRoot),
		EtcdVersion: etcdVer,
		LoadAvg:     loadAvg(),
		Duration:    duration,
		Warmup:      warmup,
		When:        time.Now(),
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg is the 1, 5 and 15 minute load averages, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// fsMagic names the file systems a data dir is likely on. It matters: fsync
// on tmpfs costs nothing, so figures taken there say nothing about disks.
var fsMagic = map[int64]string{
	0xEF53:     "ext4",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x01021994: "tmpfs",
	0x794C7630: "overlayfs",
	0x2FC12FC1: "zfs",
}

func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	if name, ok := fsMagic[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("0x%X", st.Type)
}

// The targets, checked in the report's last lines.
const (
	targetRatio128   = 3.0
	targetOps128     = 20000.0
	targetP99At16    = 10 * time.Millisecond
	targetP99Clients = 16
	targetOpsClients = 128
)

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func ops(r result) string { return fmt.Sprintf("%.0f", r.OpsPerSec()) }

func ratio(p point) string {
	if p.Ratio() == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", p.Ratio())
}

// notes are the lines under the table: method, noise, errors, targets.
func notes(m machine, points []point) []string {
	method := fmt.Sprintf("Each point ran once: %s measured after %s of warm-up, a fresh 3-node cluster per system and point, one system at a time. One run per point means no error bars: on a shared %d-core machine, rerun before trusting small differences.", m.Duration, m.Warmup, m.NumCPU)
	if m.Runs > 1 {
		method = fmt.Sprintf("Each point ran %d times, federation and etcd alternating, each run %s measured after %s of warm-up in a fresh 3-node cluster, one system at a time. The table shows each system's median run by ops/s (p50 and p99 are that run's); the ratio is median over median. Every run is listed below: on a shared %d-core machine, runs of the same build differ by more than most changes do.", m.Runs, m.Duration, m.Warmup, m.NumCPU)
	}
	n := []string{
		method,
		"Both systems fsync every commit (federation-server without --unsafe-no-fsync, etcd with its defaults) and take requests at their leader; ops/s counts acknowledged submissions only (federation: HTTP 201/200; etcd: a committed create-if-absent Txn).",
	}
	if m.FedMemoryLimit != "" {
		n = append(n, fmt.Sprintf("Each federation replica runs as in a container limited to 2 GiB: --memory-limit %s, under which federation-server takes GOGC 400 (its default whenever a memory limit is in force). etcd runs with its own defaults.", m.FedMemoryLimit))
	}
	if m.DataFS == "tmpfs" {
		n = append(n, "WARNING: the data dirs are on tmpfs, where fsync costs nothing: these figures do not include disk flushes. Pass --data-root on a disk.")
	}
	for _, p := range points {
		for _, s := range []struct {
			name string
			r    result
		}{{"federation", p.Fed}, {"etcd", p.Etcd}} {
			if s.r.Errors > 0 {
				n = append(n, fmt.Sprintf("%s, %d clients: %d errors (not counted), first: %s", s.name, p.Clients, s.r.Errors, s.r.FirstErr))
			}
		}
	}
	for _, p := range points {
		if len(p.FedRuns) > 1 || len(p.EtcdRuns) > 1 {
			n = append(n, fmt.Sprintf("%d clients, every run (ops/s): federation %s; etcd %s.", p.Clients, runList(p.FedRuns), runList(p.EtcdRuns)))
		}
	}
	for _, p := range points {
		if p.Fed.PerEntry > 0 {
			n = append(n, fmt.Sprintf("federation, %d clients: %.1f submissions per Raft log entry (group commit's mean batch; other entries of the window count too).", p.Clients, p.Fed.PerEntry))
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	for _, p := range points {
		switch p.Clients {
		case targetOpsClients:
			ok := p.Ratio() >= targetRatio128 && p.Fed.OpsPerSec() >= targetOps128
			n = append(n, fmt.Sprintf("Target at %d clients: >= %.0fx etcd and >= %.0f/s; measured %s and %s/s: %s.",
				p.Clients, targetRatio128, targetOps128, ratio(p), ops(p.Fed), verdict(ok)))
		case targetP99Clients:
			n = append(n, fmt.Sprintf("Target at %d clients: federation p99 < %s; measured %s: %s.",
				p.Clients, ms(targetP99At16), ms(p.Fed.P99), verdict(p.Fed.P99 > 0 && p.Fed.P99 < targetP99At16)))
		}
	}
	return n
}

// runList is "18534, 20541, 21236", or "n/a" for none.
func runList(runs []float64) string {
	if len(runs) == 0 {
		return "n/a"
	}
	s := make([]string, len(runs))
	for i, r := range runs {
		s[i] = fmt.Sprintf("%.0f", r)
	}
	return strings.Join(s, ", ")
}

func machineLine(m machine) string {
	return fmt.Sprintf("nproc %d, GOMAXPROCS %d, %s, CPU %s, data dirs on %s, etcd %s, load average at start %s, %s",
		m.NumCPU, m.GOMAXPROCS, m.GoVersion, m.CPUModel, m.DataFS, m.EtcdVersion, m.LoadAvg, m.When.UTC().Format(time.RFC3339))
}

var header = []string{"clients", "fed ops/s", "fed p50", "fed p99", "etcd ops/s", "etcd p50", "etcd p99", "ratio"}

func row(p point) []string {
	return []string{fmt.Sprint(p.Clients), ops(p.Fed), ms(p.Fed.P50), ms(p.Fed.P99), ops(p.Etcd), ms(p.Etcd.P50), ms(p.Etcd.P99), ratio(p)}
}

// renderText writes the table for a terminal.
func renderText(w io.Writer, m machine, points []point) error {
	fmt.Fprintln(w, "Replicated submit: federation (3 voters, fsync) vs etcd (3 members), create-if-absent per execution")
	fmt.Fprintln(w, "machine:", machineLine(m))
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, p := range points {
		fmt.Fprintln(tw, strings.Join(row(p), "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	fmt.Fprintln(w)
	for _, n := range notes(m, points) {
		if _, err := fmt.Fprintln(w, "- "+n); err != nil {
			return fmt.Errorf("write notes: %w", err)
		}
	}
	return nil
}

// renderMarkdown writes the same as a Markdown document.
func renderMarkdown(w io.Writer, m machine, points []point) error {
	var b strings.Builder
	b.WriteString("# Replicated submit: federation vs etcd\n\n")
	b.WriteString("Federation: 3 voters, fsync on. etcd: 3 members, default durability; one create-if-absent Txn per execution of the same JSON.\n\n")
	b.WriteString("Machine: " + machineLine(m) + "\n\n")
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---:|", len(header)) + "\n")
	for _, p := range points {
		b.WriteString("| " + strings.Join(row(p), " | ") + " |\n")
	}
	b.WriteString("\n")
	for _, n := range notes(m, points) {
		b.WriteString("- " + n + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	return nil
}
