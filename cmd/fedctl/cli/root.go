package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/federation-dev/federation/federation/client"
)

// Exit codes of fedctl.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Environment variables that stand in for the global flags.
const (
	EnvServer = "FEDCTL_SERVER"
	EnvToken  = "FEDCTL_TOKEN"
	EnvCA     = "FEDCTL_CA"
)

// DefaultServer is the server fedctl talks to when neither --server nor
// FEDCTL_SERVER says otherwise.
const DefaultServer = "http://127.0.0.1:8080"

// Env is what fedctl takes from its process. Tests substitute every part.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads environment variables.
	Getenv func(string) string
	// Now is the clock used for ages in tables.
	Now func() time.Time
}

// OSEnv returns the Env of the running process.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

// usageError is a mistake in how fedctl was called; it exits with ExitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Run runs fedctl with args (without the program name) and returns its exit
// code. Errors are printed on env.Stderr.
func Run(ctx context.Context, args []string, env Env) int {
	root := NewRootCommand(env)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(env.Stderr, "Error: %s\nRun '%s --help' for usage.\n", ue.msg, cmd.CommandPath())
		return ExitUsage
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintf(env.Stderr, "Error: %s\n", ee.msg)
		return ee.code
	}
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		// The server's message already names what failed; wrapping it in
		// the client's context would only repeat it.
		fmt.Fprintf(env.Stderr, "Error: %s\n", ae.Message)
		return ExitError
	}
	fmt.Fprintf(env.Stderr, "Error: %v\n", err)
	return ExitError
}

// globals are the flags every command shares, and the Env.
type globals struct {
	env     Env
	flags   *pflag.FlagSet
	server  string
	token   string
	caFile  string
	output  string
	timeout time.Duration
}

// NewRootCommand builds the fedctl command tree over env.
func NewRootCommand(env Env) *cobra.Command {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	g := &globals{env: env}
	root := &cobra.Command{
		Use:   "fedctl",
		Short: "Operate a federation of workflow clusters",
		Long: `fedctl talks to the federation control plane: register, cordon and drain member
clusters, submit and inspect workflow executions, and manage the control
plane's Raft membership.`,
		Example: `  # List member clusters of the control plane at fed.example:8080
  fedctl --server http://fed.example:8080 cluster list

  # Submit an execution and follow where it runs
  fedctl exec submit -f run.yaml
  fedctl exec get flytesnacks/development/run-1 -o yaml`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			switch g.output {
			case outputTable, outputJSON, outputYAML:
				return nil
			}
			return usagef("unknown output format %q (want table, json or yaml)", g.output)
		},
	}
	groupCommand(root)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })

	pf := root.PersistentFlags()
	g.flags = pf
	pf.StringVar(&g.server, "server", DefaultServer, "URL of any control-plane replica (env "+EnvServer+")")
	pf.StringVar(&g.token, "token", "", "bearer token sent to the server (env "+EnvToken+")")
	pf.StringVar(&g.caFile, "ca", "", "PEM CA that signed the server's TLS certificate, for an https --server (env "+EnvCA+")")
	pf.StringVarP(&g.output, "output", "o", outputTable, "output format: table, json or yaml")
	pf.DurationVar(&g.timeout, "timeout", 30*time.Second, "how long one command may wait for the server (0: no limit)")

	root.AddCommand(newClusterCommand(g), newExecCommand(g), newRaftCommand(g), newVersionCommand(g), newRolloutCommand(g))
	addOperatorCommands(root, g)
	root.AddCommand(newCacheCommand(g))
	return root
}

// groupCommand makes cmd, a command that only holds subcommands, print its
// help when run bare and refuse unknown subcommands as a usage error (cobra
// would otherwise print help and exit 0).
func groupCommand(cmd *cobra.Command) {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q", args[0], c.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// client builds an API client from the flags, falling back to the
// environment for what the flags leave unset.
func (g *globals) client() (*client.Client, error) {
	server, token := g.server, g.token
	if !g.flags.Changed("server") {
		if s := g.env.Getenv(EnvServer); s != "" {
			server = s
		}
	}
	if !g.flags.Changed("token") {
		if t := g.env.Getenv(EnvToken); t != "" {
			token = t
		}
	}
	opts := []client.Option{client.WithUserAgent("fedctl/" + Version)}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	caFile := g.caFile
	if !g.flags.Changed("ca") {
		caFile = g.env.Getenv(EnvCA)
	}
	if caFile != "" {
		tc, err := client.TLSConfigForCA(caFile)
		if err != nil {
			return nil, usagef("--ca: %v", err)
		}
		opts = append(opts, client.WithTLSConfig(tc))
	}
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, usagef("--server: %v", err)
	}
	return c, nil
}

// requestContext bounds one command by --timeout.
func (g *globals) requestContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if g.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, g.timeout)
}

// call runs fn with a client of the configured server and a context
// bounded by --timeout.
func (g *globals) call(cmd *cobra.Command, fn func(ctx context.Context, c *client.Client) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := g.requestContext(cmd)
	defer cancel()
	return fn(ctx, c)
}

// exactArgs is cobra.ExactArgs reporting a usage error, naming the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}
