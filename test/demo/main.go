// Command demo is `make demo`: a 3-replica control plane and three member
// clusters on this machine, started as real processes from bin/. It
// registers the clusters, submits executions across tiers and projects,
// drains a cluster mid-run, and prints where everything went.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	o := defaultOptions()
	flag.IntVar(&o.Executions, "executions", o.Executions, "executions to submit")
	flag.StringVar(&o.Backend, "backend", o.Backend, "member cluster backend: sim or kubernetes")
	flag.StringVar(&o.BinDir, "bin", o.BinDir, "folder with federation-server, cluster-agent and fedctl (default: <repo>/bin)")
	flag.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up when the executions have not finished by then")
	flag.BoolVar(&o.Keep, "keep", false, "leave everything running until interrupted, to explore with fedctl")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	rep, err := runWithBackend(ctx, o, explicitFlags())
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Printf("\ndemo finished in %s: %d submitted, %d succeeded, %d lost\n", time.Since(start).Round(time.Second), rep.Submitted, rep.Succeeded, rep.Lost)
}

// explicitFlags names the flags given on the command line.
func explicitFlags() map[string]bool {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// runWithBackend runs the demo; on the kubernetes backend it first starts
// one member cluster per demo member (and fewer executions unless
// --executions says), and stops them at the end.
func runWithBackend(ctx context.Context, o Options, set map[string]bool) (*Report, error) {
	if o.Backend != "kubernetes" {
		return Run(ctx, o, os.Stdout)
	}
	if !set["executions"] {
		o.Executions = kubeExecutions
	}
	kubeconfigs, stopClusters, err := startMemberClusters(ctx, os.Stdout)
	if err != nil {
		return nil, err
	}
	defer stopClusters()
	o.Kubeconfigs = kubeconfigs
	return Run(ctx, o, os.Stdout)
}
