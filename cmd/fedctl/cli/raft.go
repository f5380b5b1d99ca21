package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

func newRaftCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "raft",
		Short: "Inspect and change the control plane's Raft membership",
		Example: `  fedctl raft status
  fedctl raft join fed-3 10.0.0.13:7000 --http-addr 10.0.0.13:8080
  fedctl raft remove fed-3`,
	}
	groupCommand(cmd)
	cmd.AddCommand(newRaftStatusCommand(g), newRaftJoinCommand(g), newRaftRemoveCommand(g))
	return cmd
}

func newRaftStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the answering replica's view of the Raft cluster",
		Example: `  fedctl raft status
  fedctl --server http://10.0.0.12:8080 raft status -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				st, err := c.RaftStatus(ctx)
				if err != nil {
					return err
				}
				return g.print(st, func(w io.Writer) error {
					raftStatusTable(w, st)
					return nil
				})
			})
		},
	}
}

// raftStatusTable writes a replica's Raft state, then one row per member.
func raftStatusTable(w io.Writer, st v1.RaftStatus) {
	leader := "none (no quorum)"
	if st.Leader != nil && st.Leader.ID != "" {
		leader = fmt.Sprintf("%s (%s)", st.Leader.ID, st.Leader.Address)
	}
	fmt.Fprintf(w, "ID:\t%s\n", st.ID)
	fmt.Fprintf(w, "State:\t%s\n", st.State)
	fmt.Fprintf(w, "Leader:\t%s\n", leader)
	fmt.Fprintf(w, "Term:\t%d\n", st.Term)
	fmt.Fprintf(w, "Commit index:\t%d\n", st.CommitIndex)
	fmt.Fprintf(w, "Applied index:\t%d\n", st.AppliedIndex)
	fmt.Fprintf(w, "Last index:\t%d\n", st.LastIndex)
	fmt.Fprintln(w)
	row(w, "MEMBER", "ADDRESS", "HTTP-ADDRESS", "SUFFRAGE", "LEADER")
	for _, m := range st.Members {
		isLeader := ""
		if st.Leader != nil && st.Leader.ID == m.ID {
			isLeader = "*"
		}
		row(w, m.ID, m.Address, orDash(m.HTTPAddress), m.Suffrage, isLeader)
	}
}

func newRaftJoinCommand(g *globals) *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "join ID RAFTADDR [flags]",
		Short: "Add a replica to the control plane as a voter",
		Long: `Ask the leader to add a replica as a voter. ID is the replica's Raft server ID
and RAFTADDR its Raft address; --http-addr is its API address, which the other
replicas use to forward requests to it when it leads.`,
		Example: `  fedctl raft join fed-3 10.0.0.13:7000 --http-addr 10.0.0.13:8080`,
		Args:    exactArgs("ID", "RAFTADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				req := v1.JoinRequest{ID: args[0], Address: args[1], HTTPAddress: httpAddr}
				if err := c.RaftJoin(ctx, req); err != nil {
					return err
				}
				if g.output != outputTable {
					return g.print(req, nil)
				}
				_, err := fmt.Fprintf(g.env.Stdout, "raft member %s joined at %s\n", req.ID, req.Address)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "the replica's API address (host:port)")
	return cmd
}

func newRaftRemoveCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a replica from the control plane's Raft configuration",
		Long: `Remove a replica from the Raft configuration, for instance one whose machine is
gone. Removing members lowers the quorum size; keep an odd number of voters.`,
		Example: `  fedctl raft remove fed-3`,
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.RaftRemove(ctx, args[0]); err != nil {
					return err
				}
				if g.output != outputTable {
					return nil
				}
				_, err := fmt.Fprintf(g.env.Stdout, "raft member %s removed\n", args[0])
				return err
			})
		},
	}
}
