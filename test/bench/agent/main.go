// Command agent measures cluster agents on real member clusters: workflows
// of 3 chained task nodes completed per minute, submit-to-running latency,
// the writes the agents send to the members' API servers per task node, and
// the CPU each part uses.
//
//	go run ./test/bench/agent [--workflows 1000] [--clusters 1] [--out FILE.md] [--cpuprofile FILE]
//
// Each member cluster is a testbed cluster (etcd, kube-apiserver,
// kube-scheduler and kwok, which completes task pods as soon as they run).
// The control plane is one bin/federation-server process, every cluster
// registered with the same weight; the agents (each a session and a kube
// backend with its propeller loop) run in this process with the same
// defaults as bin/cluster-agent, so that their writes are counted exactly
// (the backends' Writes) and they can be profiled. It needs `make build
// testbin`, and ends everything it started.
//
// Targets (issue 4): at least 1,000 three-node workflows per minute through
// one agent; at most 3 API writes per task node beyond creating its pod.
// Issue 8 runs it with --clusters 3 --workflows 10000.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Targets of issue 4.
const (
	targetPerMinute      = 1000
	targetWritesPerNode  = 3.0
	maxWorkflows         = 20000
	maxClusters          = 8
	defaultWorkflows     = 1000
	nodesPerWorkflowSpec = 3
)

// config is every flag, validated before anything starts.
type config struct {
	workflows   int
	clusters    int
	out         string
	binDir      string
	timeout     time.Duration
	cpuProfile  string
	reconcilers int
	keep        bool
	// apiserverProfile, if set, receives a CPU profile of the member's
	// kube-apiserver over the first apiserverProfileFor of the run.
	apiserverProfile    string
	apiserverProfileFor time.Duration
	// progress, if positive, is how often a progress line is written.
	progress time.Duration
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.IntVar(&c.workflows, "workflows", defaultWorkflows, "workflows of 3 nodes to run")
	fs.IntVar(&c.clusters, "clusters", 1, "member clusters, each with its own agent")
	fs.StringVar(&c.out, "out", "", "also write the report as Markdown to this file")
	fs.StringVar(&c.binDir, "bin", "", "folder with federation-server (default <repo>/bin)")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up when the workflows have not finished by then (0: 5m plus 1m per 1,000 workflows)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the agent) over the measured run")
	fs.IntVar(&c.reconcilers, "reconcilers", 0, "propeller MaxConcurrentReconciles (0: the backend's default, as bin/cluster-agent)")
	fs.BoolVar(&c.keep, "keep", false, "keep the logs folder")
	fs.StringVar(&c.apiserverProfile, "apiserver-profile", "", "write a CPU profile of the (first) member's kube-apiserver (first --apiserver-profile-for of the run)")
	fs.DurationVar(&c.progress, "progress", 0, "write a progress line (workflows by phase, pods, CPU) this often (0: none)")
	fs.DurationVar(&c.apiserverProfileFor, "apiserver-profile-for", 30*time.Second, "how long --apiserver-profile profiles")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	if c.workflows < 1 || c.workflows > maxWorkflows {
		errs = append(errs, fmt.Errorf("--workflows %d: want 1 to %d", c.workflows, maxWorkflows))
	}
	if c.clusters < 1 || c.clusters > maxClusters {
		errs = append(errs, fmt.Errorf("--clusters %d: want 1 to %d", c.clusters, maxClusters))
	}
	if c.timeout < 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: must not be negative", c.timeout))
	}
	if c.reconcilers < 0 {
		errs = append(errs, fmt.Errorf("--reconcilers %d: must not be negative", c.reconcilers))
	}
	return c, errors.Join(errs...)
}

// runTimeout is --timeout, or by default 5 minutes plus one per 1,000
// workflows.
func (c *config) runTimeout() time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return 5*time.Minute + time.Duration(c.workflows)*time.Minute/1000
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent bench:", err)
		os.Exit(1)
	}
	var outs []io.Writer
	outs = append(outs, os.Stdout)
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "agent bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		outs = append(outs, f)
	}
	if err := writeReport(io.MultiWriter(outs...), res); err != nil {
		fmt.Fprintln(os.Stderr, "agent bench: write report:", err)
		os.Exit(1)
	}
	if !res.MeetsTargets() {
		os.Exit(3)
	}
}
