//go:build e2e

package e2e

// A Raft network on loopback that the partition suite can split.
//
// Each replica binds its Raft port on its own loopback IP (127.0.0.2,
// 127.0.0.3, ...; Linux routes all of 127.0.0.0/8 to lo) and advertises a
// proxy on 127.0.0.1 instead, so every peer dials it through the proxy. The
// Raft transport dials from its bind IP (raftstore.TCPStreamLayer), so a
// proxy tells replicas apart by source IP. Cutting a replica off then takes
// two rules: its own proxy refuses everything (nobody reaches it), and every
// other proxy refuses connections from its IP (it reaches nobody). HTTP
// between replicas stays direct: the partition concerns Raft only.

import (
	"io"
	"net"
	"sync"
	"time"
)

// raftNet is the proxies in front of a control plane's Raft ports and the
// set of bind IPs currently cut off.
type raftNet struct {
	env *Env

	mu      sync.Mutex
	cut     map[string]bool // bind IP → cut off
	proxies []*raftProxy
}

func newRaftNet(env *Env) *raftNet {
	return &raftNet{env: env, cut: map[string]bool{}}
}

// raftProxy forwards connections to one replica's Raft port.
type raftProxy struct {
	rn *raftNet
	// ip is the replica's bind IP; target its Raft address.
	ip     string
	target string
	ln     net.Listener

	// Guarded by rn.mu: live connections, and connections refused
	// because of a cut by source IP.
	conns   map[*proxyConn]struct{}
	refused map[string]int64
	wg      sync.WaitGroup
}

// proxyConn is one proxied connection: what the client dialed and the
// proxy's own connection to the target.
type proxyConn struct {
	src     string // the client's source IP
	in, out net.Conn
}

func (c *proxyConn) close() {
	c.in.Close()
	if c.out != nil {
		c.out.Close()
	}
}

// add starts the proxy of the replica bound on target (ip:port), on a free
// 127.0.0.1 port, and stops it at cleanup.
func (rn *raftNet) add(ip, target string) *raftProxy {
	rn.env.T.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		rn.env.T.Fatalf("raft proxy for %s: %v", target, err)
	}
	p := &raftProxy{rn: rn, ip: ip, target: target, ln: ln, conns: map[*proxyConn]struct{}{}, refused: map[string]int64{}}
	rn.mu.Lock()
	rn.proxies = append(rn.proxies, p)
	rn.mu.Unlock()
	p.wg.Go(p.serve)
	rn.env.T.Cleanup(p.close)
	return p
}

// Addr is the address the replica advertises.
func (p *raftProxy) Addr() string { return p.ln.Addr().String() }

// blocked reports whether a connection from src to this proxy's replica
// crosses the cut. Callers hold rn.mu.
func (p *raftProxy) blocked(src string) bool {
	return p.rn.cut[p.ip] || p.rn.cut[src]
}

func (p *raftProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		c := &proxyConn{src: in.RemoteAddr().(*net.TCPAddr).IP.String(), in: in}
		p.rn.mu.Lock()
		if p.blocked(c.src) {
			p.refused[c.src]++
			p.rn.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.rn.mu.Unlock()
		p.wg.Go(func() { p.pipe(c) })
	}
}

// pipe connects c to the target and copies both ways until either side
// ends or a cut closes it.
func (p *raftProxy) pipe(c *proxyConn) {
	defer func() {
		p.rn.mu.Lock()
		delete(p.conns, c)
		p.rn.mu.Unlock()
		c.close()
	}()
	out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	p.rn.mu.Lock()
	if p.blocked(c.src) { // cut while dialing
		p.rn.mu.Unlock()
		out.Close()
		return
	}
	c.out = out
	p.rn.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, c.in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c.in, out); done <- struct{}{} }()
	<-done
	c.close()
	<-done
}

func (p *raftProxy) close() {
	_ = p.ln.Close()
	p.rn.mu.Lock()
	for c := range p.conns {
		c.close()
	}
	p.rn.mu.Unlock()
	p.wg.Wait()
}

// Cut isolates the replica bound on ip: every Raft connection to it or
// from it is closed, and new ones are refused, until Heal.
func (rn *raftNet) Cut(ip string) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.cut[ip] = true
	for _, p := range rn.proxies {
		for c := range p.conns {
			if p.blocked(c.src) {
				c.close()
			}
		}
	}
}

// Heal lets every replica's Raft traffic through again.
func (rn *raftNet) Heal() {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	clear(rn.cut)
}

// Refused counts the Raft connections the cut of ip refused: in, from its
// peers to it; out, from it to its peers.
func (rn *raftNet) Refused(ip string) (in, out int64) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	for _, p := range rn.proxies {
		for src, n := range p.refused {
			switch {
			case p.ip == ip:
				in += n
			case src == ip:
				out += n
			}
		}
	}
	return in, out
}
