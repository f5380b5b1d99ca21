// Command fedctl is the command line of the federation control plane: it
// registers, cordons and drains member clusters, submits and inspects
// executions, and manages the control plane's Raft membership.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/federation-dev/federation/cmd/fedctl/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
