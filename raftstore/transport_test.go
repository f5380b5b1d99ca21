package raftstore

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// countingLayer is a plain TCP raft.StreamLayer that counts its dials, to
// show that a configured StreamLayer (TLS, later) carries the traffic.
type countingLayer struct {
	net.Listener
	dials atomic.Int64
}

func (l *countingLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	l.dials.Add(1)
	return net.DialTimeout("tcp", string(addr), timeout)
}

func TestStreamLayerCarriesRaftTraffic(t *testing.T) {
	layers := map[string]*countingLayer{}
	c := newTestCluster(t, 2, func(cfg *Config) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := &countingLayer{Listener: ln}
		layers[cfg.ID] = l
		cfg.StreamLayer = l
		cfg.BindAddr = ""
	})
	ctx := testCtx(t, 10*time.Second)
	leader := c.leader()
	if leader.RaftAddr() != layers[leader.ID()].Addr().String() {
		t.Fatalf("advertised %s, layer listens on %s", leader.RaftAddr(), layers[leader.ID()].Addr())
	}
	keys := submitN(ctx, leader, "s", 20, 4)
	for _, n := range c.nodes {
		hasAll(t, n, keys, 10*time.Second)
	}
	if layers[leader.ID()].dials.Load() == 0 {
		t.Fatal("the leader never dialed through its stream layer")
	}
}
