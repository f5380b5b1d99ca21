package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

func newExecCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "exec",
		Aliases: []string{"execution", "executions"},
		Short:   "Submit and inspect workflow executions",
		Example: `  fedctl exec submit -f run.yaml
  fedctl exec list --project flytesnacks --phase Running
  fedctl exec explain flytesnacks/development/run-1`,
	}
	groupCommand(cmd)
	cmd.AddCommand(newExecSubmitCommand(g), newExecGetCommand(g), newExecListCommand(g),
		newExecCancelCommand(g), newExecExplainCommand(g))
	return cmd
}

// keyUsage names the ways an execution key is given on the command line.
const keyUsage = "PROJECT/DOMAIN/NAME | PROJECT DOMAIN NAME"

// executionKeyArgs parses an execution key given as project/domain/name or
// as three arguments.
func executionKeyArgs(cmd *cobra.Command, args []string) (v1.ExecutionKey, error) {
	parts := args
	if len(args) == 1 {
		parts = strings.Split(args[0], "/")
	}
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return v1.ExecutionKey{}, usagef("%s takes an execution as %s; got %q", cmd.CommandPath(), keyUsage, strings.Join(args, " "))
	}
	return v1.ExecutionKey{Project: parts[0], Domain: parts[1], Name: parts[2]}, nil
}

// keyArgs validates the arguments of commands that take an execution key.
func keyArgs(cmd *cobra.Command, args []string) error {
	_, err := executionKeyArgs(cmd, args)
	return err
}

func newExecSubmitCommand(g *globals) *cobra.Command {
	var (
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "submit -f FILE [flags]",
		Short: "Submit an execution from a JSON or YAML spec",
		Long: `Submit an execution. The spec is an ExecutionSpec in JSON or YAML; "-f -" reads
it from stdin. The command returns once the submission is committed on a
quorum of the control plane. Submitting the same spec again changes nothing;
another spec under the same project/domain/name is refused.

With --dry-run nothing is submitted: fedctl shows where placement would put
the execution now, and why.`,
		Example: `  fedctl exec submit -f run.yaml
  cat run.json | fedctl exec submit -f -
  fedctl exec submit -f run.yaml --dry-run`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("-f FILE is required")
			}
			var spec v1.ExecutionSpec
			if err := g.readObject(file, &spec); err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				if dryRun {
					ex, err := c.DryRun(ctx, spec)
					if err != nil {
						return err
					}
					return g.print(ex, func(w io.Writer) error { return explanationTable(w, ex) })
				}
				ex, created, err := c.SubmitExecution(ctx, spec)
				if err != nil {
					return err
				}
				return g.print(ex, func(w io.Writer) error {
					what := "submitted"
					if !created {
						what = "unchanged (already submitted with this spec)"
					}
					fmt.Fprintf(w, "execution/%s %s, phase %s\n", ex.Key(), what, ex.Phase)
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", `ExecutionSpec as JSON or YAML ("-" reads stdin)`)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show where the execution would be placed now, without submitting it")
	return cmd
}

func newExecGetCommand(g *globals) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "get " + keyUsage,
		Short: "Show one execution, its task nodes and its history",
		Example: `  fedctl exec get flytesnacks/development/run-1
  fedctl exec get flytesnacks development run-1 -o yaml`,
		Args: keyArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, _ := executionKeyArgs(cmd, args)
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				ex, err := c.GetExecution(ctx, key, stale)
				if err != nil {
					return err
				}
				return g.print(ex, func(w io.Writer) error {
					g.describeExecution(w, ex)
					return nil
				})
			})
		},
	}
	cmd.Flags().BoolVar(&stale, "stale", false, "read the answering replica's local state, which may lag the leader")
	return cmd
}

// describeExecution writes an execution's fields, nodes and history.
func (g *globals) describeExecution(w io.Writer, ex v1.Execution) {
	field := func(name string, v any) { fmt.Fprintf(w, "%s:\t%v\n", name, v) }
	field("Execution", ex.Key())
	field("Tier", orDash(string(ex.Tier)))
	field("Phase", ex.Phase)
	field("Cluster", orDash(ex.Cluster))
	field("Attempt", ex.Attempt)
	field("Reason", orDash(ex.Reason))
	field("Message", orDash(ex.Message))
	field("Created", timeAndAge(g, ex.CreatedAt))
	field("Updated", timeAndAge(g, ex.UpdatedAt))
	if len(ex.Nodes) > 0 {
		fmt.Fprintln(w, "Nodes:")
		row(w, "  ID", "PHASE", "ATTEMPTS", "CACHED", "MESSAGE")
		for _, id := range v1.SortedKeys(ex.Nodes) {
			n := ex.Nodes[id]
			row(w, "  "+id, n.Phase, n.Attempts, n.Cached, orDash(n.Message))
		}
	}
	if len(ex.History) > 0 {
		fmt.Fprintln(w, "History:")
		row(w, "  PHASE", "CLUSTER", "ATTEMPT", "REASON", "AGE", "MESSAGE")
		for _, h := range ex.History {
			row(w, "  "+string(h.Phase), orDash(h.Cluster), h.Attempt, orDash(h.Reason), g.age(h.At), orDash(h.Message))
		}
	}
}

// timeAndAge renders a time with how long ago it was.
func timeAndAge(g *globals, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), g.age(t))
}

func newExecListCommand(g *globals) *cobra.Command {
	var (
		opts        client.ListOptions
		phase, tier string
		all         bool
	)
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List executions",
		Long: `List executions, oldest submission first, one page at a time. When more
pages remain, the token of the next page is printed on stderr; --all follows
every page.`,
		Example: `  fedctl exec list --project flytesnacks --phase Running
  fedctl exec list --cluster east --all -o json
  fedctl exec list --limit 100 --continue TOKEN`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if phase != "" {
				p := v1.ExecutionPhase(phase)
				if !p.Valid() {
					return usagef("--phase %q: want one of %s", phase, phaseNames())
				}
				opts.Phase = p
			}
			if tier != "" {
				t := v1.Tier(tier)
				if !t.Valid() {
					return usagef("--tier %q: want one of %s", tier, tierNames())
				}
				opts.Tier = t
			}
			if opts.Limit < 0 {
				return usagef("--limit %d: must not be negative", opts.Limit)
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				var list v1.ExecutionList
				var err error
				if all {
					list.Items, err = c.ListAllExecutions(ctx, opts)
				} else {
					list, err = c.ListExecutions(ctx, opts)
				}
				if err != nil {
					return err
				}
				if list.Items == nil {
					list.Items = []v1.Execution{}
				}
				if err := g.print(list, func(w io.Writer) error {
					row(w, "PROJECT", "DOMAIN", "NAME", "TIER", "PHASE", "CLUSTER", "ATTEMPT", "AGE")
					for _, ex := range list.Items {
						row(w, ex.Project, ex.Domain, ex.Name, orDash(string(ex.Tier)), ex.Phase, orDash(ex.Cluster), ex.Attempt, g.age(ex.CreatedAt))
					}
					return nil
				}); err != nil {
					return err
				}
				if list.Continue != "" && g.output == outputTable {
					// stderr, so that the table on stdout stays parseable.
					fmt.Fprintf(g.env.Stderr, "More executions: add --continue %s, or --all.\n", list.Continue)
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Project, "project", "", "only executions of this project")
	fl.StringVar(&opts.Domain, "domain", "", "only executions of this domain")
	fl.StringVar(&phase, "phase", "", "only executions in this phase: "+phaseNames())
	fl.StringVar(&opts.Cluster, "cluster", "", "only executions on this cluster")
	fl.StringVar(&tier, "tier", "", "only executions of this tier: "+tierNames())
	fl.IntVar(&opts.Limit, "limit", 0, "page size (0: the server's default)")
	fl.StringVar(&opts.Continue, "continue", "", "token of the page to fetch, from the previous page")
	fl.BoolVar(&all, "all", false, "follow every page to the end")
	fl.BoolVar(&opts.Stale, "stale", false, "read the answering replica's local state, which may lag the leader")
	return cmd
}

func phaseNames() string {
	names := make([]string, len(v1.ExecutionPhases))
	for i, p := range v1.ExecutionPhases {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

func newExecCancelCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel " + keyUsage,
		Short: "Abort an execution",
		Long: `Cancel an execution. It moves to Aborting until its cluster's agent confirms,
then to Aborted; a queued execution is aborted at once.`,
		Example: `  fedctl exec cancel flytesnacks/development/run-1`,
		Args:    keyArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, _ := executionKeyArgs(cmd, args)
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				ex, err := c.CancelExecution(ctx, key)
				if err != nil {
					return err
				}
				return g.print(ex, func(w io.Writer) error {
					fmt.Fprintf(w, "execution/%s cancelled, phase %s\n", ex.Key(), ex.Phase)
					return nil
				})
			})
		},
	}
}

func newExecExplainCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "explain " + keyUsage,
		Short: "Explain where placement puts an execution, and why",
		Long: `Show placement's verdict on every cluster for an execution: the filter that
rejected it and why, or its scores.`,
		Example: `  fedctl exec explain flytesnacks/development/run-1
  fedctl exec explain flytesnacks development run-1 -o json`,
		Args: keyArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, _ := executionKeyArgs(cmd, args)
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				ex, err := c.ExplainExecution(ctx, key)
				if err != nil {
					return err
				}
				return g.print(ex, func(w io.Writer) error { return explanationTable(w, ex) })
			})
		},
	}
}

// explanationTable writes a placement explanation: the decision, then one
// row per cluster.
func explanationTable(w io.Writer, ex v1.Explanation) error {
	chosen := ex.Chosen
	if chosen == "" {
		chosen = "none (waits in the queue)"
	}
	fmt.Fprintf(w, "Execution:\t%s\n", ex.Key)
	fmt.Fprintf(w, "Chosen:\t%s\n", chosen)
	fmt.Fprintf(w, "Summary:\t%s\n", orDash(ex.Summary))
	fmt.Fprintln(w)
	row(w, "CLUSTER", "FEASIBLE", "TOTAL", "SCORES", "FILTER", "REASON")
	for _, v := range ex.Clusters {
		total, scores := "-", "-"
		if v.Feasible {
			total = fmt.Sprintf("%.3f", v.Total)
			if len(v.Scores) > 0 {
				parts := make([]string, 0, len(v.Scores))
				for _, name := range v1.SortedKeys(v.Scores) {
					parts = append(parts, fmt.Sprintf("%s=%.3f", name, v.Scores[name]))
				}
				scores = strings.Join(parts, ",")
			}
		}
		feasible := "no"
		if v.Feasible {
			feasible = "yes"
		}
		row(w, v.Cluster, feasible, total, scores, orDash(v.Filter), orDash(v.Reason))
	}
	return nil
}
