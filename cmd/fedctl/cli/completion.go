package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
)

// addOperatorCommands adds the operator commands of this file's siblings to
// the tree: usage and completion at the top, exec watch, cluster top, and
// completion of cluster names and execution keys from the server.
func addOperatorCommands(root *cobra.Command, g *globals) {
	root.AddCommand(newUsageCommand(g), newCompletionCommand())
	for _, sub := range root.Commands() {
		switch sub.Name() {
		case "exec":
			sub.AddCommand(newExecWatchCommand(g))
			for _, c := range sub.Commands() {
				if c.Name() != "submit" && c.Name() != "list" && c.ValidArgsFunction == nil {
					c.ValidArgsFunction = g.completeExecutions
				}
			}
		case "cluster":
			sub.AddCommand(newClusterTopCommand(g))
			for _, c := range sub.Commands() {
				if c.Name() != "register" && c.Name() != "list" && c.Name() != "top" && c.ValidArgsFunction == nil {
					c.ValidArgsFunction = g.completeClusters
				}
			}
		}
	}
}

func newCompletionCommand() *cobra.Command {
	shells := []string{"bash", "zsh", "fish", "powershell"}
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for the shell. Besides commands and flags, it
completes cluster names and execution keys by asking the server (with
--server/--token or FEDCTL_SERVER/FEDCTL_TOKEN).`,
		Example: `  # bash, this shell only
  source <(fedctl completion bash)
  # bash, every shell (Debian/Ubuntu)
  fedctl completion bash > /etc/bash_completion.d/fedctl
  # zsh
  fedctl completion zsh > "${fpath[1]}/_fedctl"
  # fish
  fedctl completion fish > ~/.config/fish/completions/fedctl.fish`,
		ValidArgs: shells,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s takes one shell: %s", cmd.CommandPath(), strings.Join(shells, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usagef("unknown shell %q (want %s)", args[0], strings.Join(shells, ", "))
		},
	}
}

// completeClusters completes the first argument with registered cluster names.
func (g *globals) completeClusters(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var list v1.ClusterList
	if err := g.call(cmd, func(ctx context.Context, c *client.Client) (err error) {
		list, err = c.ListClusters(ctx)
		return err
	}); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	names := make([]string, 0, len(list.Items))
	for _, cl := range list.Items {
		names = append(names, fmt.Sprintf("%s\t%s", cl.Name, cl.State))
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeExecutions completes an execution key (PROJECT/DOMAIN/NAME) from
// the executions whose key starts with what was typed; the project, once
// typed, narrows the server's list.
func (g *globals) completeExecutions(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var list v1.ExecutionList
	if err := g.call(cmd, func(ctx context.Context, c *client.Client) (err error) {
		list, err = c.ListExecutions(ctx, listOptionsForPrefix(toComplete))
		return err
	}); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var keys []string
	for _, ex := range list.Items {
		if k := ex.Key().String(); strings.HasPrefix(k, toComplete) {
			keys = append(keys, fmt.Sprintf("%s\t%s", k, ex.Phase))
		}
	}
	return keys, cobra.ShellCompDirectiveNoFileComp
}

// listOptionsForPrefix narrows the listing by the project (and domain) typed
// so far, and caps it: completion must stay fast.
func listOptionsForPrefix(prefix string) client.ListOptions {
	opts := client.ListOptions{Limit: 200}
	if p, rest, ok := strings.Cut(prefix, "/"); ok {
		opts.Project = p
		if d, _, ok := strings.Cut(rest, "/"); ok {
			opts.Domain = d
		}
	}
	return opts
}
