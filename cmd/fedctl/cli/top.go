package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// clusterLoad is one row of "cluster top".
type clusterLoad struct {
	Name    string          `json:"name"`
	State   v1.ClusterState `json:"state"`
	Healthy bool            `json:"healthy"`
	Weight  int             `json:"weight"`
	Running int             `json:"running"`
	// LoadPerWeight is running executions per unit of weight: placement
	// evens it out, so a cluster far above the others stands out.
	LoadPerWeight float64 `json:"loadPerWeight"`
	// Used and Allocatable are requested and allocatable resources, from
	// the agent's last heartbeat; nil before the first one.
	Used        *v1.Amounts `json:"used,omitempty"`
	Allocatable *v1.Amounts `json:"allocatable,omitempty"`
}

func newClusterTopCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "top",
		Short: "Show capacity and load per cluster",
		Long: `Show, for each member cluster, how much of its allocatable CPU, memory, GPUs
and pods are requested (from its agent's last heartbeat), how many executions
it runs, and its load per unit of weight (placement keeps these even).`,
		Example: `  fedctl cluster top
  fedctl cluster top -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				list, err := c.ListClusters(ctx)
				if err != nil {
					return err
				}
				rows := make([]clusterLoad, 0, len(list.Items))
				for _, cl := range list.Items {
					r := clusterLoad{Name: cl.Name, State: cl.State, Healthy: cl.Healthy, Weight: cl.Weight, Running: cl.Running}
					if cl.Weight > 0 {
						r.LoadPerWeight = float64(cl.Running) / float64(cl.Weight)
					}
					if cl.Capacity != nil {
						used := cl.Capacity.Allocatable.Sub(cl.Capacity.Free)
						alloc := cl.Capacity.Allocatable
						r.Used, r.Allocatable = &used, &alloc
					}
					rows = append(rows, r)
				}
				return g.print(rows, func(w io.Writer) error {
					row(w, "NAME", "STATE", "HEALTHY", "WEIGHT", "RUNNING", "LOAD/WEIGHT", "CPU", "MEMORY", "GPU", "PODS")
					for _, r := range rows {
						cpu, mem, gpu, pods := "-", "-", "-", "-"
						if r.Allocatable != nil {
							cpu = share(float64(r.Used.MilliCPU)/1000, float64(r.Allocatable.MilliCPU)/1000, "%.1f")
							mem = share(float64(r.Used.MemoryBytes)/(1<<30), float64(r.Allocatable.MemoryBytes)/(1<<30), "%.1fGi")
							gpu = share(float64(r.Used.GPU), float64(r.Allocatable.GPU), "%.0f")
							pods = share(float64(r.Used.Pods), float64(r.Allocatable.Pods), "%.0f")
						}
						row(w, r.Name, r.State, r.Healthy, r.Weight, r.Running, fmt.Sprintf("%.2f", r.LoadPerWeight), cpu, mem, gpu, pods)
					}
					return nil
				})
			})
		},
	}
}

// share renders used/alloc (pct%), or "-" when nothing is allocatable.
func share(used, alloc float64, format string) string {
	if alloc <= 0 {
		return "-"
	}
	return fmt.Sprintf(format+"/"+format+" (%.0f%%)", used, alloc, 100*used/alloc)
}
