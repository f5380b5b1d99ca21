package testbed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// portAttempts is how often a component is restarted on fresh ports
	// after losing a port race to another process.
	portAttempts = 3
	// etcdReadyTimeout and apiserverReadyTimeout bound each start; generous
	// because several clusters may start at once on two shared cores.
	etcdReadyTimeout      = 30 * time.Second
	apiserverReadyTimeout = 90 * time.Second
	// defaultAPIServerGOGC trims ~30 MB of kube-apiserver's RSS (about 280
	// -> 250 MB) for little CPU at test loads; a GOMEMLIMIT would trim more
	// but can make the GC spin under load on two shared cores. See
	// ClusterOptions.APIServerGOGC.
	defaultAPIServerGOGC = 50
)

// startEtcd starts a single-member etcd and returns its client URL.
func (c *Cluster) startEtcd(ctx context.Context, binDir string) (string, error) {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return "", err
		}
		clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		p, err := c.start("etcd", filepath.Join(binDir, "etcd"), []string{
			"--name=testbed",
			"--data-dir=" + filepath.Join(c.Dir, "etcd"),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=testbed=" + peerURL,
			// Test data is disposable: skip fsync, keep little history.
			"--unsafe-no-fsync=true",
			"--snapshot-count=5000",
			"--quota-backend-bytes=1073741824",
			"--log-level=warn",
		}, nil)
		if err != nil {
			return "", err
		}
		hc := &http.Client{}
		err = p.waitReady(ctx, etcdReadyTimeout, func(ctx context.Context) error {
			return httpOK(ctx, hc, clientURL+"/health", "")
		})
		if err == nil {
			return clientURL, nil
		}
		c.forget(p)
		if attempt == portAttempts || !addrInUse(p.tail(30)) {
			return "", err
		}
	}
}

// startAPIServer starts kube-apiserver with token auth (one admin token in
// system:masters), then fills in c's RESTConfig, Kubeconfig and Client.
func (c *Cluster) startAPIServer(ctx context.Context, binDir, etcdURL string, keys *pki, token string, gogc int) error {
	tokenFile := filepath.Join(c.Dir, "pki", "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(keys.caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()

	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		host := "https://127.0.0.1:" + strconv.Itoa(ports[0])
		p, err := c.start("kube-apiserver", filepath.Join(binDir, "kube-apiserver"), []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--cert-dir=" + filepath.Join(c.Dir, "pki"),
			"--tls-cert-file=" + keys.servingCert,
			"--tls-private-key-file=" + keys.servingKey,
			"--token-auth-file=" + tokenFile,
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + keys.serviceAccount,
			"--service-account-signing-key-file=" + keys.serviceAccount,
			"--service-cluster-ip-range=10.96.0.0/16",
			"--allow-privileged=true",
			// Memory and CPU: one client, no load to shed, no HA peers.
			"--enable-priority-and-fairness=false",
			"--endpoint-reconciler-type=none",
			// /debug/pprof, as by default: it costs nothing until asked,
			// and lets a benchmark see where the API server spends.
			"--profiling=true",
			"--event-ttl=30m",
			"--v=1",
		}, []string{"GOGC=" + strconv.Itoa(gogc)})
		if err != nil {
			return err
		}
		err = p.waitReady(ctx, apiserverReadyTimeout, func(ctx context.Context) error {
			return httpOK(ctx, hc, host+"/readyz", token)
		})
		if err != nil {
			c.forget(p)
			if attempt == portAttempts || !addrInUse(p.tail(30)) {
				return err
			}
			continue
		}
		return c.setClient(host, keys.caPEM, token)
	}
}

// setClient builds the admin RESTConfig, clientset and kubeconfig file.
func (c *Cluster) setClient(host string, caPEM []byte, token string) error {
	c.RESTConfig = &rest.Config{
		Host:            host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS:             100,
		Burst:           200,
	}
	client, err := kubernetes.NewForConfig(c.RESTConfig)
	if err != nil {
		return fmt.Errorf("build client: %w", err)
	}
	c.Client = client

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = c.Name
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// startScheduler starts kube-scheduler. It serves nothing (--secure-port=0)
// and so has no readiness probe; Start checks it is still alive at the end.
func (c *Cluster) startScheduler(binDir string) error {
	_, err := c.start("kube-scheduler", filepath.Join(binDir, "kube-scheduler"), []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--profiling=false",
		// The default client limit (50 requests/s) caps binding at 50
		// pods/s, below what an agent benchmark pushes through; kwokctl
		// lifts it the same way for its fake clusters.
		"--kube-api-qps=5000",
		"--kube-api-burst=10000",
		"--v=1",
	}, nil)
	return err
}

// startKwok starts kwok with the project's stages, managing the nodes that
// carry the fakeNodeAnnotation. KWOK_WORKDIR keeps it away from ~/.kwok.
func (c *Cluster) startKwok(binDir string) error {
	stagesPath := filepath.Join(c.Dir, "kwok", "stages.yaml")
	if err := os.WriteFile(stagesPath, stagesConfig(), 0o600); err != nil {
		return fmt.Errorf("write kwok stages: %w", err)
	}
	_, err := c.start("kwok", filepath.Join(binDir, "kwok"), []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--config=" + stagesPath,
		"--manage-nodes-with-annotation-selector=" + fakeNodeAnnotation + "=" + fakeNodeValue,
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
	}, []string{"KWOK_WORKDIR=" + filepath.Join(c.Dir, "kwok")})
	return err
}

// httpOK GETs url (with a bearer token if given) and wants a 200.
func httpOK(ctx context.Context, hc *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	return nil
}
