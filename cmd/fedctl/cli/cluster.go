package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

func newClusterCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cluster",
		Aliases: []string{"clusters"},
		Short:   "Register and operate member clusters",
		Example: `  fedctl cluster register east --label region=us-east --weight 2
  fedctl cluster list
  fedctl cluster drain east --deadline 30m`,
	}
	groupCommand(cmd)
	cmd.AddCommand(
		newClusterRegisterCommand(g),
		newClusterListCommand(g),
		newClusterGetCommand(g),
		newClusterUpdateCommand(g),
		newClusterActionCommand(g, "cordon", "Stop placing new executions on a cluster",
			"Running executions keep running; placement skips the cluster until it is uncordoned.",
			"  fedctl cluster cordon east"),
		newClusterActionCommand(g, "uncordon", "Make a cordoned or drained cluster schedulable again", "",
			"  fedctl cluster uncordon east"),
		newClusterDrainCommand(g),
		newClusterRemoveCommand(g),
	)
	return cmd
}

// clusterSpecFlags are the flags that describe a cluster spec on the command line.
type clusterSpecFlags struct {
	labels   []string
	weight   int
	tiers    []string
	projects []string
}

func (f *clusterSpecFlags) add(cmd *cobra.Command, weightDefault int, labelHelp string) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.labels, "label", nil, labelHelp)
	fl.IntVar(&f.weight, "weight", weightDefault, "share of load relative to the other clusters")
	fl.StringSliceVar(&f.tiers, "tier", nil, "QoS tiers the cluster accepts, comma-separated: critical, standard, best-effort (none: all)")
	fl.StringSliceVar(&f.projects, "allowed-projects", nil, "projects that may run on the cluster, comma-separated (none: all)")
}

// specFlagNames are the flags clusterSpecFlags defines.
var specFlagNames = []string{"label", "weight", "tier", "allowed-projects"}

// parseTiers checks each tier name.
func parseTiers(names []string) ([]v1.Tier, error) {
	var tiers []v1.Tier
	for _, n := range names {
		t := v1.Tier(strings.TrimSpace(n))
		if !t.Valid() {
			return nil, usagef("--tier %q: want one of %s", n, tierNames())
		}
		tiers = append(tiers, t)
	}
	return tiers, nil
}

func tierNames() string {
	names := make([]string, len(v1.Tiers))
	for i, t := range v1.Tiers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// applyLabels applies --label arguments to labels: "k=v" sets k, and, when
// allowRemove, "k-" removes k.
func applyLabels(labels map[string]string, args []string, allowRemove bool) error {
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && k != "" {
			labels[k] = v
			continue
		}
		if k, ok := strings.CutSuffix(a, "-"); ok && allowRemove && k != "" && !strings.Contains(k, "=") {
			delete(labels, k)
			continue
		}
		if allowRemove {
			return usagef("--label %q: want key=value, or key- to remove the label", a)
		}
		return usagef("--label %q: want key=value", a)
	}
	return nil
}

func newClusterRegisterCommand(g *globals) *cobra.Command {
	var (
		f    clusterSpecFlags
		file string
	)
	cmd := &cobra.Command{
		Use:   "register (NAME [flags] | -f FILE)",
		Short: "Register a member cluster",
		Long: `Register a member cluster, from flags or from a ClusterSpec in a JSON or YAML
file. Registering again with the same spec changes nothing; another spec under
the same name is refused (use "fedctl cluster update").`,
		Example: `  fedctl cluster register east --label region=us-east --label spot=true --weight 2 --tier standard,best-effort
  fedctl cluster register -f east.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var spec v1.ClusterSpec
			if file != "" {
				if len(args) > 0 {
					return usagef("give the cluster's name in the file or as an argument, not both")
				}
				for _, n := range specFlagNames {
					if cmd.Flags().Changed(n) {
						return usagef("--%s cannot be combined with -f: put it in the file", n)
					}
				}
				if err := g.readObject(file, &spec); err != nil {
					return err
				}
			} else {
				if len(args) != 1 {
					return usagef("%s takes the cluster's NAME, or -f FILE", cmd.CommandPath())
				}
				spec.Name, spec.Weight = args[0], f.weight
				if len(f.labels) > 0 {
					spec.Labels = map[string]string{}
					if err := applyLabels(spec.Labels, f.labels, false); err != nil {
						return err
					}
				}
				tiers, err := parseTiers(f.tiers)
				if err != nil {
					return err
				}
				spec.Tiers, spec.AllowedProjects = tiers, f.projects
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				cl, created, err := c.RegisterCluster(ctx, spec)
				if err != nil {
					return err
				}
				return g.print(cl, func(w io.Writer) error {
					if created {
						fmt.Fprintf(w, "cluster/%s registered, state %s\n", cl.Name, cl.State)
					} else {
						fmt.Fprintf(w, "cluster/%s unchanged (already registered with this spec), state %s\n", cl.Name, cl.State)
					}
					return nil
				})
			})
		},
	}
	f.add(cmd, 1, "label key=value of the cluster (repeatable)")
	cmd.Flags().StringVarP(&file, "filename", "f", "", `ClusterSpec as JSON or YAML ("-" reads stdin)`)
	return cmd
}

func newClusterListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List member clusters",
		Example: `  fedctl cluster list
  fedctl cluster list -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				list, err := c.ListClusters(ctx)
				if err != nil {
					return err
				}
				return g.print(list, func(w io.Writer) error {
					g.clusterTable(w, list.Items...)
					return nil
				})
			})
		},
	}
}

func newClusterGetCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "get NAME",
		Short:   "Show one member cluster",
		Example: `  fedctl cluster get east -o yaml`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				cl, err := c.GetCluster(ctx, args[0])
				if err != nil {
					return err
				}
				return g.print(cl, func(w io.Writer) error {
					g.clusterTable(w, cl)
					return nil
				})
			})
		},
	}
}

// clusterTable writes clusters as a table with a header.
func (g *globals) clusterTable(w io.Writer, clusters ...v1.Cluster) {
	row(w, "NAME", "STATE", "HEALTHY", "BREAKER", "WEIGHT", "TIERS", "RUNNING", "FREE-CPU", "FREE-MEMORY", "HEARTBEAT", "AGE", "LABELS")
	for _, cl := range clusters {
		tiers := "all"
		if len(cl.Tiers) > 0 {
			parts := make([]string, len(cl.Tiers))
			for i, t := range cl.Tiers {
				parts[i] = string(t)
			}
			tiers = strings.Join(parts, ",")
		}
		cpu, mem := "-", "-"
		if cl.Capacity != nil {
			cpu = resource.NewMilliQuantity(cl.Capacity.Free.MilliCPU, resource.DecimalSI).String()
			mem = resource.NewQuantity(cl.Capacity.Free.MemoryBytes, resource.BinarySI).String()
		}
		row(w, cl.Name, cl.State, cl.Healthy, orDash(cl.Breaker), cl.Weight, tiers, cl.Running, cpu, mem,
			g.age(cl.LastHeartbeat), g.age(cl.CreatedAt), labelString(cl.Labels))
	}
}

func newClusterUpdateCommand(g *globals) *cobra.Command {
	var f clusterSpecFlags
	cmd := &cobra.Command{
		Use:   "update NAME [flags]",
		Short: "Change a member cluster's weight, labels, tiers or projects",
		Long: `Change a registered cluster. Only the flags given change. --label k=v adds or
changes one label and --label k- removes one; the other labels stay. --tier and
--allowed-projects replace the whole list.`,
		Example: `  fedctl cluster update east --weight 4
  fedctl cluster update east --label spot=true --label zone-
  fedctl cluster update east --tier critical,standard`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			var patch v1.ClusterPatch
			changed := false
			for _, n := range specFlagNames {
				changed = changed || cmd.Flags().Changed(n)
			}
			if !changed {
				return usagef("nothing to update: give at least one of --%s", strings.Join(specFlagNames, ", --"))
			}
			if cmd.Flags().Changed("weight") {
				patch.Weight = &f.weight
			}
			if cmd.Flags().Changed("tier") {
				tiers, err := parseTiers(f.tiers)
				if err != nil {
					return err
				}
				if len(tiers) == 0 {
					return usagef("--tier: give at least one tier")
				}
				patch.Tiers = tiers
			}
			if cmd.Flags().Changed("allowed-projects") {
				if len(f.projects) == 0 {
					return usagef("--allowed-projects: give at least one project, or * for all")
				}
				patch.AllowedProjects = f.projects
			}
			// Validate --label before any request is sent.
			if err := applyLabels(map[string]string{}, f.labels, true); err != nil {
				return err
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				if len(f.labels) > 0 {
					// The patch carries the whole label set, so merge the
					// changes into the current one.
					cur, err := c.GetCluster(ctx, name)
					if err != nil {
						return err
					}
					labels := make(map[string]string, len(cur.Labels))
					for k, v := range cur.Labels {
						labels[k] = v
					}
					if err := applyLabels(labels, f.labels, true); err != nil {
						return err
					}
					if len(labels) == 0 {
						return fmt.Errorf("update cluster %s: removing every label is not supported by the API", name)
					}
					patch.Labels = labels
				}
				cl, err := c.UpdateCluster(ctx, name, patch)
				if err != nil {
					return err
				}
				return g.print(cl, func(w io.Writer) error {
					fmt.Fprintf(w, "cluster/%s updated\n", cl.Name)
					return nil
				})
			})
		},
	}
	f.add(cmd, 0, "add or change a label key=value, or remove one with key- (repeatable)")
	return cmd
}

// newClusterActionCommand builds cordon and uncordon, which differ only by
// the client call.
func newClusterActionCommand(g *globals, verb, short, long, example string) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " NAME",
		Short:   short,
		Long:    strings.TrimSpace(short + ". " + long),
		Example: example,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				call := c.Cordon
				if verb == "uncordon" {
					call = c.Uncordon
				}
				cl, err := call(ctx, args[0])
				if err != nil {
					return err
				}
				return g.print(cl, func(w io.Writer) error {
					fmt.Fprintf(w, "cluster/%s %sed, state %s\n", cl.Name, verb, cl.State)
					return nil
				})
			})
		},
	}
}

func newClusterDrainCommand(g *globals) *cobra.Command {
	var deadline, every time.Duration
	var wait bool
	cmd := &cobra.Command{
		Use:   "drain NAME --deadline DURATION [flags]",
		Short: "Move a member cluster's executions elsewhere before maintenance",
		Long: `Drain a cluster: it is cordoned at once, its running executions may finish
until the deadline, and those still running then are requeued on other
clusters with their next attempt. Nothing is lost. Uncordon ends a drain.`,
		Example: `  fedctl cluster drain east --deadline 30m
  # Requeue everything at once
  fedctl cluster drain east --deadline 0s
  # Follow the drain until nothing runs there (exit 0 when Drained)
  fedctl cluster drain east --deadline 30m --wait`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("deadline") {
				return usagef("--deadline is required, as a duration such as 30m")
			}
			if deadline < 0 {
				return usagef("--deadline %s: must not be negative", deadline)
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				cl, err := c.Drain(ctx, args[0], deadline)
				if err != nil {
					return err
				}
				if wait {
					var progress io.Writer
					if g.output == outputTable {
						progress = g.env.Stdout
					}
					// --timeout bounds each poll, not the wait, which runs
					// until the command's context ends.
					d := &drainWaiter{c: c, request: func() (context.Context, context.CancelFunc) { return g.requestContext(cmd) },
						every: every, now: g.env.Now}
					if cl, err = d.wait(cmd.Context(), args[0], progress); err != nil {
						return err
					}
					return g.print(cl, func(w io.Writer) error {
						fmt.Fprintf(w, "cluster/%s drained\n", cl.Name)
						return nil
					})
				}
				return g.print(cl, func(w io.Writer) error {
					when := "deadline in " + deadline.String()
					if cl.DrainDeadline != nil {
						when = "deadline " + cl.DrainDeadline.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(w, "cluster/%s draining, %s, %d running\n", cl.Name, when, cl.Running)
					return nil
				})
			})
		},
	}
	cmd.Flags().DurationVar(&deadline, "deadline", 0, "how long running executions may keep running before they are requeued (required)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the drain (executions left, oldest, time to deadline) until the cluster is Drained")
	cmd.Flags().DurationVar(&every, "interval", 2*time.Second, "how often --wait polls")
	return cmd
}

func newClusterRemoveCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a member cluster that runs nothing",
		Long: `Remove a member cluster. The server refuses while the cluster still runs
executions: drain it first.`,
		Example: `  fedctl cluster drain east --deadline 10m
  fedctl cluster remove east`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.RemoveCluster(ctx, args[0]); err != nil {
					return err
				}
				if g.output != outputTable {
					return nil
				}
				_, err := fmt.Fprintf(g.env.Stdout, "cluster/%s removed\n", args[0])
				return err
			})
		},
	}
}
