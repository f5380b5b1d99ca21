package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ClusterOptions describes one member cluster to start.
type ClusterOptions struct {
	// Name names the cluster in logs, errors and its temp dir; default "member".
	Name string
	// Nodes are the fake nodes kwok manages; default one node of 32 CPU,
	// 128Gi memory, 110 pods.
	Nodes []NodeSpec
	// BinDir holds etcd, kube-apiserver, kube-scheduler and kwok; default BinDir().
	BinDir string
	// Logs, if set, receives every component's output, each line prefixed
	// with "[cluster/component] ". The logs are also kept in the cluster's
	// temp dir until Stop.
	Logs io.Writer
	// APIServerGOGC is kube-apiserver's GOGC. Zero means 50, which trims
	// about 30 MB of its memory for tests at some CPU; under load the
	// collector then takes about a third of its CPU, so benchmarks set 100
	// (Go's default, what a production API server runs with).
	APIServerGOGC int
}

// Cluster is a running member cluster. Stop it when done.
type Cluster struct {
	// Name is ClusterOptions.Name.
	Name string
	// Dir is the cluster's temp dir (data, keys, logs); Stop removes it.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig for the cluster.
	Kubeconfig string
	// RESTConfig is an admin client config for the cluster.
	RESTConfig *rest.Config
	// Client is a clientset built from RESTConfig.
	Client kubernetes.Interface
	// Nodes are the names of the fake nodes, in ClusterOptions.Nodes order.
	Nodes []string

	logs io.Writer

	mu      sync.Mutex
	procs   []*process // in start order; stopped in reverse
	stopped bool
}

// Start starts a member cluster: etcd, kube-apiserver, kube-scheduler and
// kwok, each on free loopback ports; then creates the fake nodes, waits for
// kwok to make them Ready and removes their not-ready taint, and ensures the
// default ServiceAccount in namespace "default". ctx bounds the start only:
// the cluster runs until Stop. On error everything started is stopped.
func Start(ctx context.Context, o ClusterOptions) (_ *Cluster, err error) {
	if o.Name == "" {
		o.Name = "member"
	}
	if len(o.Nodes) == 0 {
		o.Nodes = []NodeSpec{{CPU: "32", Memory: "128Gi", Pods: "110"}}
	}
	binDir := o.BinDir
	if binDir == "" {
		if binDir, err = BinDir(); err != nil {
			return nil, err
		}
	}
	if err := checkBinaries(binDir); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testbed-"+o.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("start cluster %s: %w", o.Name, err)
	}
	c := &Cluster{Name: o.Name, Dir: dir, logs: o.Logs}
	defer func() {
		if err != nil {
			err = fmt.Errorf("start cluster %s: %w", o.Name, err)
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}
	}()
	for _, sub := range []string{"logs", "pki", "etcd", "kwok"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}

	etcdURL, err := c.startEtcd(ctx, binDir)
	if err != nil {
		return nil, err
	}
	keys, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	gogc := o.APIServerGOGC
	if gogc <= 0 {
		gogc = defaultAPIServerGOGC
	}
	if err := c.startAPIServer(ctx, binDir, etcdURL, keys, token, gogc); err != nil {
		return nil, err
	}
	if err := c.EnsureNamespace(ctx, "default"); err != nil {
		return nil, err
	}
	if err := c.startScheduler(binDir); err != nil {
		return nil, err
	}
	if err := c.startKwok(binDir); err != nil {
		return nil, err
	}
	if err := c.createNodes(ctx, o.Nodes); err != nil {
		return nil, err
	}
	if err := c.waitNodesReady(ctx); err != nil {
		return nil, err
	}
	// The scheduler has no readiness endpoint (it serves nothing); at least
	// make sure it did not die while the nodes came up.
	if err := c.checkRunning(); err != nil {
		return nil, err
	}
	return c, nil
}

// StartN starts several clusters in parallel. On any error it stops the
// clusters that did start and returns the errors of all that failed.
func StartN(ctx context.Context, opts []ClusterOptions) ([]*Cluster, error) {
	clusters := make([]*Cluster, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Go(func() { clusters[i], errs[i] = Start(ctx, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clusters {
			if c != nil {
				err = errors.Join(err, c.Stop())
			}
		}
		return nil, err
	}
	return clusters, nil
}

// Stop ends the cluster's processes (its own process groups only, newest
// first) and removes its temp dir. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		if err := c.procs[i].stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", c.Dir, err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop cluster %s: %w", c.Name, err)
	}
	return nil
}

// Pids returns the process ids of the cluster's components (each leads its
// own process group), for tests that check Stop left nothing behind.
func (c *Cluster) Pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	pids := make([]int, 0, len(c.procs))
	for _, p := range c.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// start starts one component and records it for Stop.
func (c *Cluster) start(name, bin string, args, env []string) (*process, error) {
	var extra io.Writer
	if c.logs != nil {
		extra = &prefixWriter{mu: &logsMu, w: c.logs, prefix: "[" + c.Name + "/" + name + "] "}
	}
	p, err := startProcess(name, bin, args, env, filepath.Join(c.Dir, "logs"), extra)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.procs = append(c.procs, p)
	return p, nil
}

// forget stops a component that lost a port race and drops it from the
// cluster, so a retry can take its place.
func (c *Cluster) forget(p *process) {
	_ = p.stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.procs {
		if q == p {
			c.procs = append(c.procs[:i], c.procs[i+1:]...)
			return
		}
	}
}

// checkRunning fails if any component has exited.
func (c *Cluster) checkRunning() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.exited() {
			return &componentError{name: p.name, msg: fmt.Sprintf("exited (%v)", p.waitErr), log: p.tail(30)}
		}
	}
	return nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
