package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

func newUsageCommand(g *globals) *cobra.Command {
	var (
		opts     client.UsageOptions
		since    time.Duration
		from, to string
	)
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show resource usage and estimated cost by project, domain and cluster",
		Long: `Show the CPU-, memory- and GPU-time that task nodes requested while they ran in
a window (the last 24 hours unless --since or --from/--to say otherwise), by
project, domain and cluster, then per project, then the costliest executions.
Costs use each cluster's current prices (prices.cpuHour, prices.gibHour,
prices.gpuHour of its ClusterSpec, given with "fedctl cluster register -f");
a cluster without prices costs 0. Only a node's last run is charged.`,
		Example: `  fedctl usage
  fedctl usage --project flytesnacks --since 168h
  fedctl usage --from 2026-03-01 --to 2026-04-01 -o json
  fedctl usage --cluster us-east-1 --top 20`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 {
				return usagef("--since must not be negative")
			}
			if since > 0 && from != "" {
				return usagef("give --since or --from, not both")
			}
			var err error
			if opts.From, err = parseWhen("--from", from); err != nil {
				return err
			}
			if opts.To, err = parseWhen("--to", to); err != nil {
				return err
			}
			if since > 0 {
				end := opts.To
				if end.IsZero() {
					end = g.env.Now()
				}
				opts.From = end.Add(-since)
			}
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				rep, err := c.Usage(ctx, opts)
				if err != nil {
					return err
				}
				return g.print(rep, func(w io.Writer) error { return usageTables(w, rep) })
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Project, "project", "", "only this project")
	f.StringVar(&opts.Domain, "domain", "", "only this domain")
	f.StringVar(&opts.Cluster, "cluster", "", "only what ran on this cluster")
	f.DurationVar(&since, "since", 0, "window: this long before --to (or now), e.g. 24h, 168h")
	f.StringVar(&from, "from", "", "window start: RFC 3339 time or a date (2026-03-01)")
	f.StringVar(&to, "to", "", "window end: RFC 3339 time or a date (default now)")
	f.IntVar(&opts.Limit, "top", 10, "how many of the costliest executions to list")
	return cmd
}

// parseWhen reads an RFC 3339 time or a date; "" is the zero time.
func parseWhen(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("%s %q: want an RFC 3339 time (2026-03-01T12:00:00Z) or a date (2026-03-01)", flag, v)
}

// usageTables renders a usage report as three tables.
func usageTables(w io.Writer, rep v1.UsageReport) error {
	hours := func(s float64) string { return fmt.Sprintf("%.2f", s/3600) }
	gibHours := func(bs float64) string { return fmt.Sprintf("%.2f", bs/(1<<30)/3600) }
	cost := func(c float64) string { return fmt.Sprintf("%.2f", c) }
	fmt.Fprintf(w, "Window:\t%s .. %s\n\n", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	row(w, "PROJECT", "DOMAIN", "CLUSTER", "EXECUTIONS", "CPU-HOURS", "MEM-GIB-HOURS", "GPU-HOURS", "COST")
	for _, r := range rep.Rows {
		row(w, r.Project, r.Domain, r.Cluster, r.Executions, hours(r.CPUSeconds), gibHours(r.MemoryByteSeconds), hours(r.GPUSeconds), cost(r.Cost))
	}
	row(w, "TOTAL", "", "", "", hours(rep.Total.CPUSeconds), gibHours(rep.Total.MemoryByteSeconds), hours(rep.Total.GPUSeconds), cost(rep.Total.Cost))
	fmt.Fprintln(w)
	row(w, "PROJECT", "CPU-HOURS", "MEM-GIB-HOURS", "GPU-HOURS", "COST")
	for _, p := range rep.Projects {
		row(w, p.Project, hours(p.CPUSeconds), gibHours(p.MemoryByteSeconds), hours(p.GPUSeconds), cost(p.Cost))
	}
	if len(rep.Executions) > 0 {
		fmt.Fprintln(w)
		row(w, "EXECUTION", "CPU-HOURS", "MEM-GIB-HOURS", "GPU-HOURS", "COST")
		for _, e := range rep.Executions {
			row(w, e.ExecutionKey.String(), hours(e.CPUSeconds), gibHours(e.MemoryByteSeconds), hours(e.GPUSeconds), cost(e.Cost))
		}
	}
	return nil
}
