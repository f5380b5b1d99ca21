package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/raft"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation"
	"github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/raftstore"
)

// securityFlags are the flags of authentication, TLS and request limits.
type securityFlags struct {
	tokenFile string
	// insecureNoAuth runs without authentication outside --dev: every
	// caller may do everything. Tests and demos only.
	insecureNoAuth bool
	insecureNoTLS  bool
	tls            federation.TLSFiles
	// joinToken is the admin token this replica joins with.
	joinToken string
}

func (c *securityFlags) register(fs *flag.FlagSet, svc *federation.Config) {
	fs.StringVar(&c.tokenFile, "token-file", "", "CSV file of bearer tokens, one per line: token,name,role,scope (reloaded when it changes, and on SIGHUP)")
	fs.BoolVar(&c.insecureNoAuth, "insecure-no-auth", false, "serve the API without authentication: anyone who reaches it may do anything (tests and demos only)")
	fs.BoolVar(&c.insecureNoTLS, "insecure-no-tls", false, "serve the API and the Raft transport in plain text outside --dev (tokens travel in clear)")
	fs.StringVar(&c.tls.CertFile, "tls-cert", "", "PEM certificate of this replica, for the HTTP API and the Raft transport (needs serverAuth and clientAuth usages)")
	fs.StringVar(&c.tls.KeyFile, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.tls.CAFile, "tls-ca", "", "PEM CA that signed every replica's certificate: Raft peers must present one (mutual TLS)")
	fs.StringVar(&c.joinToken, "join-token", os.Getenv("FEDERATION_JOIN_TOKEN"), "admin token used by --join (default $FEDERATION_JOIN_TOKEN)")
	fs.Float64Var(&svc.SubmitRate, "submit-rate", svc.SubmitRate, "submissions per second allowed per token (0: no limit)")
	fs.IntVar(&svc.SubmitBurst, "submit-burst", svc.SubmitBurst, "submissions a token may send at once above --submit-rate")
	fs.IntVar(&svc.Limits.MaxNodes, "max-nodes", svc.Limits.MaxNodes, "most task nodes in one workflow")
	fs.IntVar(&svc.Limits.MaxDependsOn, "max-depends-on", svc.Limits.MaxDependsOn, "most dependencies of one task node")
	fs.IntVar(&svc.Limits.MaxLabels, "max-labels", svc.Limits.MaxLabels, "most labels on a cluster or preferred by an execution")
	fs.IntVar(&svc.Limits.MaxInputs, "max-inputs", svc.Limits.MaxInputs, "most inputs of one execution")
	fs.IntVar(&svc.Limits.MaxInputBytes, "max-input-bytes", svc.Limits.MaxInputBytes, "most bytes of an execution's input names and values together")
}

// validate checks the flags: outside --dev a replica needs tokens (or an
// explicit --insecure-no-auth) and TLS (or an explicit insecure flag).
func (c *securityFlags) validate(dev bool, lim v1.Limits) []error {
	var errs []error
	if c.tokenFile != "" && c.insecureNoAuth {
		errs = append(errs, errors.New("--token-file and --insecure-no-auth exclude each other"))
	}
	if !dev && c.tokenFile == "" && !c.insecureNoAuth {
		errs = append(errs, errors.New("--token-file is required outside --dev (or --insecure-no-auth, to let anyone do anything: tests only)"))
	}
	if c.tls.Enabled() {
		if c.tls.CertFile == "" || c.tls.KeyFile == "" || c.tls.CAFile == "" {
			errs = append(errs, errors.New("--tls-cert, --tls-key and --tls-ca go together"))
		}
		if c.insecureNoTLS {
			errs = append(errs, errors.New("--tls-* and --insecure-no-tls exclude each other"))
		}
	} else if !dev && !c.insecureNoTLS && !c.insecureNoAuth {
		errs = append(errs, errors.New("--tls-cert, --tls-key and --tls-ca are required outside --dev (or --insecure-no-tls)"))
	}
	for _, l := range []struct {
		flag string
		v    int
	}{{"--max-nodes", lim.MaxNodes}, {"--max-depends-on", lim.MaxDependsOn}, {"--max-labels", lim.MaxLabels}, {"--max-inputs", lim.MaxInputs}, {"--max-input-bytes", lim.MaxInputBytes}} {
		if l.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %d: must be positive", l.flag, l.v))
		}
	}
	return errs
}

// setup loads tokens and certificates into svc and returns the Raft stream
// layer (nil: plain TCP) and the options of the client that joins.
func (c *securityFlags) setup(ctx context.Context, log *slog.Logger, svc *federation.Config, raftAddr string) (raft.StreamLayer, []client.Option, error) {
	var joinOpts []client.Option
	if c.joinToken != "" {
		joinOpts = append(joinOpts, client.WithToken(c.joinToken))
	}
	switch {
	case c.tokenFile != "":
		store, err := federation.OpenTokenFile(c.tokenFile, log)
		if err != nil {
			return nil, nil, err
		}
		svc.Auth = store
		go reloadOnHangup(ctx, log, store)
	case c.insecureNoAuth:
		log.Warn("AUTHENTICATION IS OFF (--insecure-no-auth): anyone who reaches the API may submit, cancel, drain clusters and change Raft membership")
	default:
		log.Warn("dev mode: authentication is off")
	}
	if !c.tls.Enabled() {
		if svc.Auth != nil {
			log.Warn("TLS is off: bearer tokens and Raft traffic travel in clear text")
		}
		return nil, joinOpts, nil
	}
	id, err := c.tls.Load()
	if err != nil {
		return nil, nil, err
	}
	svc.TLS, svc.ForwardTLS = id.ServerConfig(), id.ClientConfig()
	layer, err := raftstore.NewTLSStreamLayer(raftAddr, "", id.Certificate, id.Roots)
	if err != nil {
		return nil, nil, err
	}
	return layer, append(joinOpts, client.WithTLSConfig(id.ClientConfig())), nil
}

// reloadOnHangup reloads the token file on SIGHUP until ctx ends.
func reloadOnHangup(ctx context.Context, log *slog.Logger, store *federation.TokenStore) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := store.Reload(); err != nil {
				log.Error("reload token file on SIGHUP; keeping the previous tokens", "err", err)
			}
		}
	}
}
