package raftstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestRaftDialsFromItsBindIP: a stream layer bound to a specific IP dials
// its peers from that IP, over plain TCP and TLS alike.
func TestRaftDialsFromItsBindIP(t *testing.T) {
	ca := newTestCA(t, "raft-ca")
	cases := []struct {
		name      string
		bind      string
		advertise string
		tls       bool
		// wantSrc is the source IP the peer must see; "" when the kernel
		// chooses (wildcard bind).
		wantSrc string
	}{
		{name: "plain TCP on 127.0.0.2", bind: "127.0.0.2:0", wantSrc: "127.0.0.2"},
		{name: "plain TCP on 127.0.0.1", bind: "127.0.0.1:0", wantSrc: "127.0.0.1"},
		{name: "plain TCP on the wildcard", bind: "0.0.0.0:0", advertise: "127.0.0.1:7999"},
		{name: "TLS on 127.0.0.3", bind: "127.0.0.3:0", tls: true, wantSrc: "127.0.0.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dialer raft.StreamLayer
			var peer net.Listener
			if tc.tls {
				// The peer listens on 127.0.0.1, the IP its certificate names.
				p, err := NewTLSStreamLayer("127.0.0.1:0", "", ca.issue(t, "peer"), ca.pool)
				if err != nil {
					t.Fatal(err)
				}
				d, err := NewTLSStreamLayer(tc.bind, tc.advertise, ca.issue(t, "dialer"), ca.pool)
				if err != nil {
					t.Fatal(err)
				}
				peer, dialer = p, d
			} else {
				p, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				d, err := NewTCPStreamLayer(tc.bind, tc.advertise)
				if err != nil {
					t.Fatal(err)
				}
				peer, dialer = p, d
			}
			t.Cleanup(func() { _ = peer.Close(); _ = dialer.Close() })

			accepted := make(chan net.Addr, 1)
			go func() {
				c, err := peer.Accept()
				if err != nil {
					close(accepted)
					return
				}
				defer c.Close()
				if tc, ok := c.(*tls.Conn); ok {
					_ = tc.Handshake() // the dialer waits for it
				}
				accepted <- c.RemoteAddr()
			}()
			conn, err := dialer.Dial(raft.ServerAddress(peer.Addr().String()), 5*time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			var src net.Addr
			select {
			case src = <-accepted:
			case <-time.After(5 * time.Second):
				t.Fatal("the peer accepted nothing")
			}
			if src == nil {
				t.Fatal("the peer's accept failed")
			}
			got := src.(*net.TCPAddr).IP.String()
			if tc.wantSrc != "" && got != tc.wantSrc {
				t.Fatalf("peer saw a connection from %s, want %s", got, tc.wantSrc)
			}
		})
	}
}

func TestNewTCPStreamLayerAdvertises(t *testing.T) {
	cases := []struct {
		name, bind, advertise string
		// want is the advertised address; "bound" means the listener's.
		want    string
		wantErr error
	}{
		{name: "bound address", bind: "127.0.0.1:0", want: "bound"},
		{name: "explicit address", bind: "127.0.0.1:0", advertise: "127.0.0.9:7100", want: "127.0.0.9:7100"},
		{name: "wildcard bind with advertise", bind: "0.0.0.0:0", advertise: "127.0.0.9:7100", want: "127.0.0.9:7100"},
		{name: "wildcard bind alone", bind: "0.0.0.0:0", wantErr: ErrNotAdvertisable},
		{name: "wildcard advertise", bind: "127.0.0.1:0", advertise: "0.0.0.0:7100", wantErr: ErrNotAdvertisable},
		{name: "advertise without a port", bind: "127.0.0.1:0", advertise: "127.0.0.9:0", wantErr: ErrNotAdvertisable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewTCPStreamLayer(tc.bind, tc.advertise)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			want := tc.want
			if want == "bound" {
				want = l.Listener.Addr().String()
			}
			if got := l.Addr().String(); got != want {
				t.Fatalf("advertised %s, want %s", got, want)
			}
		})
	}
}

// TestAdvertiseAddrOverridesStreamLayer: a node over a given stream layer
// advertises Config.AdvertiseAddr when set.
func TestAdvertiseAddrOverridesStreamLayer(t *testing.T) {
	l, err := NewTCPStreamLayer("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "n0", t.TempDir(), "")
	cfg.StreamLayer, cfg.AdvertiseAddr = l, "127.0.0.9:7100"
	n := openNode(t, cfg)
	if got := n.RaftAddr(); got != "127.0.0.9:7100" {
		t.Fatalf("advertised %s, want 127.0.0.9:7100", got)
	}
}

// TestRaftThroughAdvertisedProxiesFromBindIPs: three nodes bound to
// 127.0.0.2-4 advertise proxies, so every peer dials a proxy; the cluster
// replicates through them, each follower's proxy carries the leader's
// connections from the leader's bind IP, and no proxy sees any other source.
// This is what lets a proxy cut one replica off by source address
// (test/e2e's partition suite).
func TestRaftThroughAdvertisedProxiesFromBindIPs(t *testing.T) {
	proxies := map[string]*sourceProxy{} // by bind IP
	ipOf := map[string]string{}          // node ID → bind IP
	c := newTestCluster(t, 3, func(cfg *Config) {
		ip := fmt.Sprintf("127.0.0.%d", 2+len(proxies))
		bind := freeAddr(t, ip)
		p := newSourceProxy(t, bind)
		proxies[ip], ipOf[cfg.ID] = p, ip
		cfg.BindAddr, cfg.AdvertiseAddr = bind, p.addr()
	})
	ctx := testCtx(t, 15*time.Second)
	leader := c.leader()
	keys := submitN(ctx, leader, "via-proxy", 20, 4)
	for _, n := range c.nodes {
		hasAll(t, n, keys, 10*time.Second)
		if got, want := n.RaftAddr(), proxies[ipOf[n.ID()]].addr(); got != want {
			t.Errorf("%s advertises %s, want its proxy %s", n.ID(), got, want)
		}
	}
	leaderIP := ipOf[leader.ID()]
	for ip, p := range proxies {
		srcs := p.sources()
		if ip != leaderIP && srcs[leaderIP] == 0 {
			t.Errorf("the proxy of follower %s carried no connection from the leader's IP %s (saw %v)", ip, leaderIP, srcs)
		}
		for src := range srcs {
			if _, ok := proxies[src]; !ok || src == ip {
				t.Errorf("the proxy of %s saw a connection from %s, want another node's bind IP", ip, src)
			}
		}
	}
}

// freeAddr returns ip:port with a port free at the time of the call.
func freeAddr(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sourceProxy forwards TCP connections to target and records the source
// IP of each.
type sourceProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	srcs  map[string]int
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newSourceProxy(t *testing.T, target string) *sourceProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &sourceProxy{ln: ln, target: target, srcs: map[string]int{}, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *sourceProxy) addr() string { return p.ln.Addr().String() }

func (p *sourceProxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.srcs[in.RemoteAddr().(*net.TCPAddr).IP.String()]++
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.copy(out, in)
		go p.copy(in, out)
	}
}

// copy pipes one direction and closes both ends when it ends.
func (p *sourceProxy) copy(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *sourceProxy) sources() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.srcs))
	for k, v := range p.srcs {
		out[k] = v
	}
	return out
}

// close stops accepting and ends every connection. Each node closes before
// its proxy (cleanups run last-registered first).
func (p *sourceProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
