package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// ExitExecutionFailed is the exit code of "exec watch" when the execution
// ends Failed or Aborted: scripts can tell it from a failure of fedctl (1)
// and from a usage mistake (2).
const ExitExecutionFailed = 3

// exitError ends fedctl with a given code after printing its message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func newExecWatchCommand(g *globals) *cobra.Command {
	var (
		interval time.Duration
		nodes    bool
	)
	cmd := &cobra.Command{
		Use:   "watch " + keyUsage,
		Short: "Follow an execution's phase changes until it ends",
		Long: `Print a line each time the execution changes phase, cluster or attempt (and,
with --nodes, each time a task node changes phase), until it ends.

Exit codes: 0 when it ends Succeeded, 3 when it ends Failed or Aborted, 1 when
fedctl cannot follow it (unknown execution, server unreachable beyond
--timeout), 2 for a usage mistake. --timeout bounds each poll, not the watch.`,
		Example: `  fedctl exec watch flytesnacks/development/run-1
  fedctl exec watch flytesnacks development run-1 --nodes --interval 500ms
  fedctl exec submit -f run.yaml && fedctl exec watch flytesnacks/development/run-1 || echo "run failed"`,
		Args: keyArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := executionKeyArgs(cmd, args)
			if err != nil {
				return err
			}
			if interval <= 0 {
				return usagef("--interval must be positive")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return g.watchExecution(cmd, c, key, interval, nodes)
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often to poll the execution")
	cmd.Flags().BoolVar(&nodes, "nodes", false, "also print task node phase changes")
	return cmd
}

// watchExecution polls key until it is terminal, printing changes.
func (g *globals) watchExecution(cmd *cobra.Command, c *client.Client, key v1.ExecutionKey, interval time.Duration, withNodes bool) error {
	out := g.env.Stdout
	var last *v1.Execution
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ctx, cancel := g.requestContext(cmd)
		ex, err := c.GetExecution(ctx, key, false)
		cancel()
		if err != nil {
			return err
		}
		g.printChanges(out, last, &ex, withNodes)
		last = &ex
		if ex.Phase.Terminal() {
			if ex.Phase == v1.PhaseSucceeded {
				return nil
			}
			return &exitError{code: ExitExecutionFailed, msg: fmt.Sprintf("execution %s ended %s: %s", key, ex.Phase, orDash(ex.Message))}
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-tick.C:
		}
	}
}

// printChanges prints what differs between the previous and the current
// view of an execution; everything on the first view.
func (g *globals) printChanges(w io.Writer, prev, cur *v1.Execution, withNodes bool) {
	at := g.env.Now().Format("15:04:05")
	if prev == nil || prev.Phase != cur.Phase || prev.Cluster != cur.Cluster || prev.Attempt != cur.Attempt {
		fmt.Fprintf(w, "%s  %-9s  cluster=%s  attempt=%d  reason=%s", at, cur.Phase, orDash(cur.Cluster), cur.Attempt, orDash(cur.Reason))
		if cur.Message != "" {
			fmt.Fprintf(w, "  message=%q", cur.Message)
		}
		fmt.Fprintln(w)
	}
	if !withNodes {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(cur.Nodes)) {
		n := cur.Nodes[id]
		if prev != nil {
			if old, ok := prev.Nodes[id]; ok && old.Phase == n.Phase && old.Attempts == n.Attempts {
				continue
			}
		}
		fmt.Fprintf(w, "%s    node %s: %s", at, id, n.Phase)
		if n.Attempts > 1 {
			fmt.Fprintf(w, " (try %d)", n.Attempts)
		}
		if n.Message != "" {
			fmt.Fprintf(w, "  %q", n.Message)
		}
		fmt.Fprintln(w)
	}
}
