// Command scale measures how the control plane's costs grow with the work:
// placement (submit-to-assigned latency, assignments per second), memory
// (heap and RSS of a replica) and snapshots (time and size), from 10k to
// 1M executions and from 10 to 1,000 clusters, and the same after the
// finished executions were archived by retention. It writes BENCHMARKS.md
// and a PNG chart.
//
//	go run ./test/bench/scale [--max 1000000] [--out BENCHMARKS.md] [--png BENCHMARKS-growth.png]
//	                          [--submit-report bin/bench-submit.md] [--agent-report bin/bench-agent.md]
//	                          [--max-placement-lag 1000] [--profile DIR]
//
// Each run is a child process of this program (so that its RSS is its
// own): a single-voter control plane in that process, with real Raft, the
// bbolt log with fsync and file snapshots, served by federation.Server as
// in production (scheduler, health monitor, admission control), with
// simulated agents that heartbeat. Submissions are handed to the Raft node
// in batches after the server's admission control; test/bench/submit
// measures the HTTP layer (3 voters, against etcd), and --submit-report
// folds its report in.
package main

import (
	"runtime/debug"

	"k8s.io/apimachinery/pkg/api/resource"

	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/federation-dev/federation/federation"
)

// Targets of issue 8.
const (
	targetRSSMB       = 2048
	targetSnapshotSec = 10.0
	targetAssignP99Ms = 50.0
)

type config struct {
	max          int
	out, png     string
	submitReport string
	agentReport  string
	retain       bool
	child        string
	save, load   string
	timeout      time.Duration
	maxLag       int
	memoryLimit  string
	profile      string
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.IntVar(&c.max, "max", 1_000_000, "largest execution count (runs: 10k, 100k, 1M up to this)")
	fs.StringVar(&c.out, "out", "BENCHMARKS.md", "the report to write")
	fs.StringVar(&c.png, "png", "BENCHMARKS-growth.png", "the growth chart to write (PNG)")
	fs.StringVar(&c.submitReport, "submit-report", "", "a report of test/bench/submit to include")
	fs.StringVar(&c.agentReport, "agent-report", "", "reports of test/bench/agent to include, comma-separated")
	fs.BoolVar(&c.retain, "retain", true, "after each run, finish and archive everything and measure again")
	fs.StringVar(&c.child, "child", "", "internal: run one measurement EXECUTIONS,CLUSTERS and print JSON")
	fs.StringVar(&c.save, "save", "", "also write the measured results as JSON to this file")
	fs.StringVar(&c.load, "load", "", "do not measure: render the report and chart from results saved with --save")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.StringVar(&c.profile, "profile", "", "write a CPU profile and an execution trace of each run into this folder")
	fs.StringVar(&c.memoryLimit, "memory-limit", "1800Mi", "the replica's soft memory limit (--memory-limit of federation-server), as in a container limited to 2 GiB; 0: none")
	fs.IntVar(&c.maxLag, "max-placement-lag", federation.DefaultMaxPlacementLag, "the server's admission bound (--max-placement-lag of federation-server; 0: none)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.max < 10_000 {
		return nil, errors.New("--max must be at least 10000")
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// plan is the runs: executions grow at 1,000 clusters, clusters grow at
// 100k executions (or the largest count under --max).
func plan(maxExec int) [][2]int {
	var runs [][2]int
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		if n <= maxExec {
			runs = append(runs, [2]int{n, 1000})
		}
	}
	mid := min(100_000, maxExec)
	runs = append(runs, [2]int{mid, 10}, [2]int{mid, 100})
	return runs
}

func run(ctx context.Context, cfg *config) error {
	if cfg.child != "" {
		n, c, err := parseChild(cfg.child)
		if err != nil {
			return err
		}
		if err := setMemoryLimit(cfg.memoryLimit); err != nil {
			return err
		}
		if cfg.profile != "" {
			stop, err := startProfiles(cfg.profile, fmt.Sprintf("%d-%d", n, c))
			if err != nil {
				return err
			}
			defer func() { _ = stop() }()
		}
		res, err := runOne(ctx, n, c, cfg.maxLag, cfg.retain)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	var results []*result
	if cfg.load != "" {
		data, err := os.ReadFile(cfg.load)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &results); err != nil {
			return fmt.Errorf("load %s: %w", cfg.load, err)
		}
		return render(cfg, results)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, r := range plan(cfg.max) {
		fmt.Fprintf(os.Stderr, "run: %d executions on %d clusters...\n", r[0], r[1])
		args := []string{"--child", fmt.Sprintf("%d,%d", r[0], r[1]), "--retain=" + strconv.FormatBool(cfg.retain), "--max-placement-lag=" + strconv.Itoa(cfg.maxLag), "--profile=" + cfg.profile, "--memory-limit=" + cfg.memoryLimit}
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("run %d executions on %d clusters: %w", r[0], r[1], err)
		}
		res := new(result)
		if err := json.Unmarshal(out, res); err != nil {
			return fmt.Errorf("run %d/%d: read result: %w", r[0], r[1], err)
		}
		fmt.Fprintf(os.Stderr, "  %+v\n", *res)
		results = append(results, res)
	}
	if cfg.save != "" {
		data, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.save, data, 0o644); err != nil {
			return err
		}
	}
	return render(cfg, results)
}

func render(cfg *config, results []*result) error {
	if err := writePNG(cfg.png, results); err != nil {
		return err
	}
	return writeReport(cfg, results)
}

func parseChild(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, ",")
	n, err1 := strconv.Atoi(a)
	c, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n <= 0 || c <= 0 {
		return 0, 0, fmt.Errorf("--child %q: want EXECUTIONS,CLUSTERS", s)
	}
	return n, c, nil
}

// setMemoryLimit applies the replica's soft memory limit to this process,
// as federation-server's --memory-limit does, with the GOGC the server
// takes under a limit.
func setMemoryLimit(limit string) error {
	q, err := resource.ParseQuantity(limit)
	if err != nil || q.Sign() < 0 {
		return fmt.Errorf("--memory-limit %q: not a byte quantity", limit)
	}
	if q.Sign() > 0 {
		debug.SetMemoryLimit(q.Value())
		debug.SetGCPercent(federation.GCPercentUnderMemoryLimit)
	}
	return nil
}
