package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// errNoSpare is returned when even one cluster cannot be taken out without
// breaking the spare-capacity rule.
var errNoSpare = errors.New("not enough spare capacity")

// rolloutOptions are the flags of `fedctl rollout`.
type rolloutOptions struct {
	clusters       []string
	maxUnavailable int
	minSpare       float64 // fraction, 0.2 for "20%"
	command        string
	drainDeadline  time.Duration
	readyTimeout   time.Duration
	expectVersion  string
	every          time.Duration
}

func newRolloutCommand(g *globals) *cobra.Command {
	var o rolloutOptions
	var minSpare string
	cmd := &cobra.Command{
		Use:   "rollout --clusters A,B,C --exec 'CMD {cluster}' [flags]",
		Short: "Upgrade member clusters one group at a time, draining each first",
		Long: `Roll an upgrade over member clusters. For each group of at most
--max-unavailable clusters: drain them (running executions may finish until
--drain-deadline, the rest move elsewhere), run the upgrade command for each
({cluster} is replaced by its name; it runs with sh -c), wait until its agent
heartbeats again and is healthy (reporting --expect-version when given), and
uncordon it. A group is only as large as the spare-capacity rule allows: the
clusters left in service must keep --min-spare of their capacity free after
taking the group's load. The rollout stops at the first failure and leaves
the failed cluster drained.`,
		Example: `  fedctl rollout --clusters east,west,south --max-unavailable 1 --min-spare 20% \
      --exec './upgrade.sh {cluster}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.clusters) == 0 {
				return usagef("--clusters is required")
			}
			if o.command == "" {
				return usagef("--exec is required")
			}
			if o.maxUnavailable < 1 {
				return usagef("--max-unavailable %d: must be at least 1", o.maxUnavailable)
			}
			f, err := parsePercent(minSpare)
			if err != nil {
				return usagef("--min-spare: %v", err)
			}
			o.minSpare = f
			c, err := g.client()
			if err != nil {
				return err
			}
			r := &rollout{g: g, c: c, o: o, cmd: cmd, out: g.env.Stdout, errOut: g.env.Stderr}
			return r.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&o.clusters, "clusters", nil, "clusters to upgrade, in order, comma-separated (required)")
	fl.IntVar(&o.maxUnavailable, "max-unavailable", 1, "most clusters out of service at once")
	fl.StringVar(&minSpare, "min-spare", "20%", "capacity the clusters left in service must keep free, as a percentage")
	fl.StringVar(&o.command, "exec", "", "upgrade command, run with sh -c; {cluster} is replaced by the cluster's name (required)")
	fl.DurationVar(&o.drainDeadline, "drain-deadline", 30*time.Minute, "how long running executions may finish before they are requeued")
	fl.DurationVar(&o.readyTimeout, "ready-timeout", 10*time.Minute, "how long an upgraded cluster's agent may take to be healthy again")
	fl.StringVar(&o.expectVersion, "expect-version", "", "agent version an upgraded cluster must report (default: any, after the upgrade)")
	fl.DurationVar(&o.every, "interval", 2*time.Second, "how often progress is polled")
	return cmd
}

// parsePercent parses "20%" (or "0.2") into a fraction in [0, 1).
func parsePercent(s string) (float64, error) {
	s = strings.TrimSpace(s)
	var f float64
	var err error
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err = strconv.ParseFloat(p, 64)
		f /= 100
	} else {
		f, err = strconv.ParseFloat(s, 64)
	}
	if err != nil || f < 0 || f >= 1 {
		return 0, fmt.Errorf("%q: want a percentage from 0%% to below 100%%, such as 20%%", s)
	}
	return f, nil
}

// spareAfter is the smallest fraction, over CPU, memory, GPU and pods, of
// the in-service clusters' allocatable capacity that stays free if the
// clusters in out leave service and their load moves to the others. In
// service means schedulable (Ready) and healthy; a cluster without reported
// capacity adds none. It is -1 when nothing would be left in service.
func spareAfter(clusters []v1.Cluster, out map[string]bool) float64 {
	var alloc, used v1.Amounts
	inService := 0
	for _, c := range clusters {
		if c.Capacity == nil {
			continue
		}
		load := c.Capacity.Allocatable.Sub(c.Capacity.Free)
		switch {
		case out[c.Name]:
			used = used.Add(load) // moves to the others
		case c.State == v1.ClusterReady && c.Healthy:
			inService++
			alloc = alloc.Add(c.Capacity.Allocatable)
			used = used.Add(load)
		}
	}
	if inService == 0 {
		return -1
	}
	spare := 1.0
	for _, d := range [][2]int64{
		{alloc.MilliCPU, used.MilliCPU}, {alloc.MemoryBytes, used.MemoryBytes}, {alloc.GPU, used.GPU}, {alloc.Pods, used.Pods},
	} {
		if d[0] <= 0 {
			if d[1] > 0 {
				return -1 // load of a kind nothing left can hold
			}
			continue
		}
		spare = min(spare, float64(d[0]-d[1])/float64(d[0]))
	}
	return spare
}

// nextGroup picks the next clusters to take out: from the front of todo, at
// most maxUnavailable, as many as keep spareAfter >= minSpare. It fails with
// errNoSpare when not even the first can go.
func nextGroup(clusters []v1.Cluster, todo []string, maxUnavailable int, minSpare float64) ([]string, error) {
	out := map[string]bool{}
	var group []string
	for _, name := range todo {
		if len(group) == maxUnavailable {
			break
		}
		out[name] = true
		if s := spareAfter(clusters, out); s < minSpare {
			delete(out, name)
			if len(group) == 0 {
				return nil, fmt.Errorf("%w to take cluster %s out: %.0f%% would stay free, --min-spare is %.0f%%", errNoSpare, name, max(s, 0)*100, minSpare*100)
			}
			break
		}
		group = append(group, name)
	}
	return group, nil
}

// rollout runs one `fedctl rollout`.
type rollout struct {
	g           *globals
	c           *client.Client
	o           rolloutOptions
	cmd         *cobra.Command
	out, errOut io.Writer
}

func (r *rollout) request() (context.Context, context.CancelFunc) { return r.g.requestContext(r.cmd) }

func (r *rollout) logf(format string, args ...any) {
	fmt.Fprintf(r.out, "rollout: "+format+"\n", args...)
}

func (r *rollout) listClusters() ([]v1.Cluster, error) {
	ctx, cancel := r.request()
	defer cancel()
	l, err := r.c.ListClusters(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	return l.Items, nil
}

func (r *rollout) run(ctx context.Context) error {
	clusters, err := r.listClusters()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, c := range clusters {
		known[c.Name] = true
	}
	for _, n := range r.o.clusters {
		if !known[n] {
			return usagef("--clusters: no cluster %q is registered", n)
		}
	}
	todo := append([]string(nil), r.o.clusters...)
	for len(todo) > 0 {
		if clusters, err = r.listClusters(); err != nil {
			return err
		}
		group, err := nextGroup(clusters, todo, r.o.maxUnavailable, r.o.minSpare)
		if err != nil {
			return err
		}
		r.logf("group %s (%d left after it)", strings.Join(group, ","), len(todo)-len(group))
		if err := r.upgradeGroup(ctx, clusters, group); err != nil {
			return err
		}
		todo = todo[len(group):]
	}
	r.logf("done: %d cluster(s) upgraded", len(r.o.clusters))
	return nil
}

// upgradeGroup drains the group, then upgrades and returns each cluster.
func (r *rollout) upgradeGroup(ctx context.Context, clusters []v1.Cluster, group []string) error {
	before := map[string]v1.Cluster{}
	for _, c := range clusters {
		before[c.Name] = c
	}
	for _, name := range group {
		rctx, cancel := r.request()
		_, err := r.c.Drain(rctx, name, r.o.drainDeadline)
		cancel()
		if err != nil {
			return fmt.Errorf("drain %s: %w", name, err)
		}
		r.logf("%s: draining, deadline in %s", name, r.o.drainDeadline)
	}
	d := &drainWaiter{c: r.c, request: r.request, every: r.o.every, now: r.g.env.Now}
	for _, name := range group {
		if _, err := d.wait(ctx, name, r.out); err != nil {
			return err
		}
	}
	for _, name := range group {
		if err := r.upgradeOne(ctx, name, before[name]); err != nil {
			return fmt.Errorf("cluster %s: %w (it stays drained; uncordon it when fixed)", name, err)
		}
	}
	return nil
}

// upgradeOne runs the upgrade command for one drained cluster, waits for
// its agent and uncordons it.
func (r *rollout) upgradeOne(ctx context.Context, name string, before v1.Cluster) error {
	line := strings.ReplaceAll(r.o.command, "{cluster}", name)
	r.logf("%s: running %q", name, line)
	c := exec.CommandContext(ctx, "sh", "-c", line)
	c.Stdout, c.Stderr = r.out, r.errOut
	if err := c.Run(); err != nil {
		return fmt.Errorf("upgrade command %q: %w", line, err)
	}
	ran := r.g.env.Now()
	wctx, cancel := context.WithTimeout(ctx, r.o.readyTimeout)
	defer cancel()
	for {
		rctx, rcancel := r.request()
		cl, err := r.c.GetCluster(rctx, name)
		rcancel()
		if err == nil && cl.Healthy && cl.LastHeartbeat.After(ran) &&
			(r.o.expectVersion == "" || cl.AgentVersion == r.o.expectVersion) {
			r.logf("%s: agent healthy, version %s (was %s)", name, orDash(cl.AgentVersion), orDash(before.AgentVersion))
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("agent not healthy%s within %s after the upgrade (healthy %v, version %s)",
				versionNote(r.o.expectVersion), r.o.readyTimeout, cl.Healthy, orDash(cl.AgentVersion))
		case <-time.After(r.o.every):
		}
	}
	rctx, rcancel := r.request()
	defer rcancel()
	if _, err := r.c.Uncordon(rctx, name); err != nil {
		return fmt.Errorf("uncordon: %w", err)
	}
	r.logf("%s: uncordoned", name)
	return nil
}

func versionNote(v string) string {
	if v == "" {
		return ""
	}
	return " with version " + v
}
