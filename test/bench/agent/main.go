// Command agent measures one cluster agent on one real member cluster:
// workflows of 3 chained task nodes completed per minute, and the writes
// the agent sends to the member's API server per task node.
//
//	go run ./test/bench/agent [--workflows 1000] [--out FILE.md] [--cpuprofile FILE]
//
// The member cluster is a testbed cluster (etcd, kube-apiserver,
// kube-scheduler and kwok, which completes task pods as soon as they run).
// The control plane is one bin/federation-server process; the agent (the
// session and the kube backend with its propeller loop) runs in this
// process with the same defaults as bin/cluster-agent, so that its writes
// are counted exactly (the backend's Writes) and it can be profiled. It
// needs `make build testbin`, and ends everything it started.
//
// Targets (issue 4): at least 1,000 three-node workflows per minute through
// one agent; at most 3 API writes per task node beyond creating its pod.
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
	defaultWorkflows     = 1000
	defaultRunTimeout    = 5 * time.Minute
	nodesPerWorkflowSpec = 3
)

// config is every flag, validated before anything starts.
type config struct {
	workflows   int
	out         string
	binDir      string
	timeout     time.Duration
	cpuProfile  string
	reconcilers int
	keep        bool
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.IntVar(&c.workflows, "workflows", defaultWorkflows, "workflows of 3 nodes to run")
	fs.StringVar(&c.out, "out", "", "also write the report as Markdown to this file")
	fs.StringVar(&c.binDir, "bin", "", "folder with federation-server (default <repo>/bin)")
	fs.DurationVar(&c.timeout, "timeout", defaultRunTimeout, "give up when the workflows have not finished by then")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the agent) over the measured run")
	fs.IntVar(&c.reconcilers, "reconcilers", 0, "propeller MaxConcurrentReconciles (0: the backend's default, as bin/cluster-agent)")
	fs.BoolVar(&c.keep, "keep", false, "keep the logs folder")
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
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: must be positive", c.timeout))
	}
	if c.reconcilers < 0 {
		errs = append(errs, fmt.Errorf("--reconcilers %d: must not be negative", c.reconcilers))
	}
	return c, errors.Join(errs...)
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
