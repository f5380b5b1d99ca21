package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdCluster is a running 3-member etcd cluster.
type etcdCluster struct {
	procs     []*proc
	endpoints []string
	// leader is the client URL of the leader at start.
	leader string
}

// startEtcd starts three etcd members with default durability (every commit
// fsynced), data in dir, bootstrapped together with --initial-cluster. It
// returns once every member answers and all agree on a leader.
func startEtcd(ctx context.Context, g *procGroup, bin, dir string, timeout time.Duration) (*etcdCluster, error) {
	addrs, err := freeAddrs(2 * replicas)
	if err != nil {
		return nil, err
	}
	names := make([]string, replicas)
	var initial []string
	for i := range replicas {
		names[i] = fmt.Sprintf("m%d", i+1)
		initial = append(initial, names[i]+"=http://"+addrs[2*i+1])
	}
	c := &etcdCluster{}
	for i, name := range names {
		clientURL, peerURL := "http://"+addrs[2*i], "http://"+addrs[2*i+1]
		args := []string{
			"--name", name, "--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "federation-bench-" + filepath.Base(dir),
			"--log-level", "warn",
		}
		p, err := g.start("etcd-"+name, filepath.Join(dir, name+".log"), bin, args...)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.endpoints = append(c.endpoints, clientURL)
	}
	cli, err := newEtcdClient(c.endpoints)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cli.Close() }()
	err = poll(ctx, timeout, "a 3-member etcd cluster with a leader", func(ctx context.Context) (bool, error) {
		if err := deadErr(c.procs); err != nil {
			return false, err
		}
		var leaderID uint64
		leader := ""
		for _, ep := range c.endpoints {
			st, err := cli.Status(ctx, ep)
			if err != nil || st.Leader == 0 || (leaderID != 0 && st.Leader != leaderID) {
				return false, nil
			}
			leaderID = st.Leader
			if st.Header.MemberId == st.Leader {
				leader = ep
			}
		}
		c.leader = leader
		return leader != "", nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// newEtcdClient returns a quiet client of endpoints: one gRPC connection
// multiplexing every concurrent request, as etcd's own benchmark tool does
// with --conns=1.
func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %s: %w", strings.Join(endpoints, ","), err)
	}
	return cli, nil
}

// etcdKeyPrefix is where the benchmark keeps executions in etcd.
const etcdKeyPrefix = "/federation/executions/"

// etcdSubmitter stores executions in etcd the way an idempotent submit needs:
// one transaction that creates the key only if it is absent and otherwise
// reads what is there, so the caller can compare specs.
type etcdSubmitter struct {
	cli *clientv3.Client
	run string
}

func (s *etcdSubmitter) submit(ctx context.Context, seq uint64) error {
	key, body, err := specJSON(s.run, seq)
	if err != nil {
		return err
	}
	k := etcdKeyPrefix + key.String()
	_, err = s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(body))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return fmt.Errorf("etcd submit %s: %w", key, err)
	}
	return nil
}

// etcdVersion returns the first line of `etcd --version`, for the report.
func etcdVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "etcd Version:"))
}
