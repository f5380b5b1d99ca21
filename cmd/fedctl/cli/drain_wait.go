package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// livePhases are the phases of executions that occupy a cluster.
var livePhases = []v1.ExecutionPhase{v1.PhaseAssigned, v1.PhaseRunning, v1.PhaseAborting}

// drainProgress is what `drain --wait` shows of a draining cluster.
type drainProgress struct {
	Cluster string
	State   v1.ClusterState
	// Left counts the executions still on the cluster.
	Left int
	// Oldest is how long the longest-placed of them has been there.
	Oldest time.Duration
	// ToDeadline is the time left until the drain deadline (negative once
	// it passed); HasDeadline is false when the cluster has none.
	ToDeadline  time.Duration
	HasDeadline bool
}

// progressOf computes the progress of a drain at now.
func progressOf(cl v1.Cluster, live []v1.Execution, now time.Time) drainProgress {
	p := drainProgress{Cluster: cl.Name, State: cl.State, Left: len(live)}
	for _, ex := range live {
		since := ex.UpdatedAt
		for _, h := range ex.History {
			if h.Phase == v1.PhaseAssigned && h.Attempt == ex.Attempt {
				since = h.At
			}
		}
		p.Oldest = max(p.Oldest, now.Sub(since))
	}
	if cl.DrainDeadline != nil {
		p.HasDeadline = true
		p.ToDeadline = cl.DrainDeadline.Sub(now)
	}
	return p
}

// String renders the progress as one line.
func (p drainProgress) String() string {
	s := fmt.Sprintf("cluster/%s %s: %d execution(s) left", p.Cluster, p.State, p.Left)
	if p.Left > 0 {
		s += ", oldest " + duration.HumanDuration(p.Oldest)
	}
	switch {
	case !p.HasDeadline:
	case p.ToDeadline > 0:
		s += ", deadline in " + duration.HumanDuration(p.ToDeadline)
	default:
		s += ", deadline passed " + duration.HumanDuration(-p.ToDeadline) + " ago"
	}
	return s
}

// drainWaiter polls a cluster until it is Drained.
type drainWaiter struct {
	c *client.Client
	// request bounds each call (the --timeout of one request).
	request func() (context.Context, context.CancelFunc)
	every   time.Duration
	now     func() time.Time
}

// liveOn lists the executions that occupy a cluster.
func (d *drainWaiter) liveOn(ctx context.Context, name string) ([]v1.Execution, error) {
	var all []v1.Execution
	for _, ph := range livePhases {
		l, err := d.c.ListAllExecutions(ctx, client.ListOptions{Cluster: name, Phase: ph, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("list %s executions on %s: %w", ph, name, err)
		}
		all = append(all, l...)
	}
	return all, nil
}

// progress reads a cluster's drain progress once.
func (d *drainWaiter) progress(ctx context.Context, name string) (v1.Cluster, drainProgress, error) {
	rctx, cancel := d.request()
	defer cancel()
	cl, err := d.c.GetCluster(rctx, name)
	if err != nil {
		return cl, drainProgress{}, err
	}
	live, err := d.liveOn(rctx, name)
	if err != nil {
		return cl, drainProgress{}, err
	}
	return cl, progressOf(cl, live, d.now()), ctx.Err()
}

// wait polls until the cluster is Drained, writing a progress line to w
// (when not nil) at every poll. It fails when the drain ends otherwise: the
// cluster was uncordoned or removed.
func (d *drainWaiter) wait(ctx context.Context, name string, w io.Writer) (v1.Cluster, error) {
	for {
		cl, p, err := d.progress(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return cl, fmt.Errorf("wait for cluster %s to drain: %w", name, ctx.Err())
			}
			return cl, fmt.Errorf("wait for cluster %s to drain: %w", name, err)
		}
		if w != nil {
			fmt.Fprintln(w, p.String())
		}
		switch cl.State {
		case v1.ClusterDrained:
			return cl, nil
		case v1.ClusterDraining:
		default:
			return cl, fmt.Errorf("drain of cluster %s ended without draining it: it is %s", name, cl.State)
		}
		select {
		case <-ctx.Done():
			return cl, fmt.Errorf("wait for cluster %s to drain: %w", name, ctx.Err())
		case <-time.After(d.every):
		}
	}
}
