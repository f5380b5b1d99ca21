package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

func newCacheCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and evict the federation-wide task cache",
		Long: `Task nodes marked cache: {version: ...} store their outputs under a key made of
the task's image, command, args, env, cache version and input values. A run of
the same key on any member cluster reuses them instead of starting a pod.
Entries are scoped by project.`,
		Example: `  fedctl cache list --project flytesnacks
  fedctl cache get 3f5a…c2 --project flytesnacks
  fedctl cache evict 3f5a…c2 --project flytesnacks`,
	}
	groupCommand(cmd)
	cmd.AddCommand(newCacheListCommand(g), newCacheGetCommand(g), newCacheEvictCommand(g))
	return cmd
}

func newCacheListCommand(g *globals) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List cache entries, least recently used first",
		Example: `  fedctl cache list --project flytesnacks
  fedctl cache list -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				list, err := c.ListCache(ctx, project)
				if err != nil {
					return err
				}
				return g.print(list, func(w io.Writer) error {
					row(w, "PROJECT", "KEY", "PRODUCER", "SIZE", "HITS", "LAST-USED", "EXPIRES")
					for _, e := range list.Items {
						expires := "never"
						if !e.ExpiresAt.IsZero() {
							expires = e.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
						}
						row(w, e.Project, shortKey(e.Key), producer(e.Producer), e.Size, e.Hits, g.age(e.LastUsedAt), expires)
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "only this project's entries (default: every project)")
	return cmd
}

func newCacheGetCommand(g *globals) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "get KEY --project PROJECT",
		Short:   "Show a cache key's stored outputs and the run computing it, if any",
		Example: `  fedctl cache get 3f5a…c2 --project flytesnacks -o yaml`,
		Args:    exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" {
				return usagef("--project is required: cache entries are scoped by project")
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				st, err := c.GetCache(ctx, project, args[0])
				if err != nil {
					return err
				}
				return g.print(st, func(w io.Writer) error {
					fmt.Fprintf(w, "Key:\t%s\n", args[0])
					fmt.Fprintf(w, "Project:\t%s\n", project)
					if e := st.Entry; e != nil {
						fmt.Fprintf(w, "Producer:\t%s\n", producer(e.Producer))
						fmt.Fprintf(w, "Created:\t%s ago\n", g.age(e.CreatedAt))
						fmt.Fprintf(w, "Last used:\t%s ago\n", g.age(e.LastUsedAt))
						fmt.Fprintf(w, "Hits:\t%d\n", e.Hits)
						fmt.Fprintf(w, "Size:\t%d bytes\n", e.Size)
						for _, k := range slices.Sorted(maps.Keys(e.Outputs)) {
							fmt.Fprintf(w, "Output %s:\t%s\n", k, e.Outputs[k])
						}
					} else {
						fmt.Fprintf(w, "Entry:\tnone stored\n")
					}
					if cl := st.Claim; cl != nil {
						fmt.Fprintf(w, "Claimed by:\t%s until %s\n", producer(cl.Owner), cl.Deadline.UTC().Format("2006-01-02T15:04:05Z"))
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "the key's project (required)")
	return cmd
}

func newCacheEvictCommand(g *globals) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "evict KEY --project PROJECT",
		Short: "Remove a cache entry, so that the next run of its key computes it again",
		Long: `Remove a key's stored outputs (and any claim on it): the next run of a node with
this key starts a pod. Use it when outputs are known to be bad; to invalidate a
whole task, bump its cache version instead.`,
		Example: `  fedctl cache evict 3f5a…c2 --project flytesnacks`,
		Args:    exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" {
				return usagef("--project is required: cache entries are scoped by project")
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.EvictCache(ctx, project, args[0]); err != nil {
					return err
				}
				if g.output != outputTable {
					return nil
				}
				_, err := fmt.Fprintf(g.env.Stdout, "cache key %s of project %s evicted\n", args[0], project)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "the key's project (required)")
	return cmd
}

// shortKey abbreviates a 64-digit key for tables; -o json shows it whole.
func shortKey(k string) string {
	if len(k) <= 16 {
		return k
	}
	return k[:12] + "…"
}

// producer names a node run as execution/node#attempt@cluster.
func producer(o v1.CacheOwner) string {
	if o.Execution.Name == "" {
		return "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s#%d", o.Execution, o.Node, o.Attempt)
	if o.Cluster != "" {
		b.WriteString("@" + o.Cluster)
	}
	return b.String()
}
