package main

import (
	"fmt"
	"log/slog"

	"github.com/go-logr/logr"

	"github.com/federation-dev/federation/clusteragent"
	"github.com/federation-dev/federation/clusteragent/kube"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// newKubeBackend connects to the member cluster from --kubeconfig, or from
// the pod's service account when none is given. Its metrics (controller-
// runtime's and the propeller's) live in controller-runtime's registry,
// which the agent's metrics join so that --metrics-addr serves them all.
func newKubeBackend(cfg *config, cp clusteragent.CacheControlPlane, log *slog.Logger) (runnableBackend, registry, error) {
	// controller-runtime logs through logr; without a logger it prints a
	// warning and a stack trace after 30 s instead of its messages.
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	var (
		rc  *rest.Config
		err error
	)
	if cfg.kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client config (set --kubeconfig outside a cluster): %w", err)
	}
	cache, err := newTaskCache(cfg, cp, ctrlmetrics.Registry, log)
	if err != nil {
		return nil, nil, err
	}
	b, err := kube.New(rc, kube.Options{
		Namespace:  cfg.namespace,
		InstallCRD: cfg.installCRD,
		// "0" turns controller-runtime's own metrics server off: the
		// agent serves the same registry on --metrics-addr.
		MetricsAddr: "0",
		Logger:      log,

		Cache:        cache,
		CacheMaxWait: cfg.cacheMaxWait,
	})
	if err != nil {
		return nil, nil, err
	}
	return b, ctrlmetrics.Registry, nil
}
