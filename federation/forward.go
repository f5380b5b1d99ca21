package federation

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"

	"github.com/federation-dev/federation/raftstore"
)

// forwardedHeader marks a request a follower already forwarded, so that a
// stale view of the leader can never bounce a request around in a loop.
const forwardedHeader = "X-Federation-Forwarded-By"

// forwarder proxies requests that need the leader to it, so that callers
// never see "not leader".
type forwarder struct {
	node *raftstore.Node
	log  *slog.Logger

	mu      sync.Mutex
	proxies map[string]*httputil.ReverseProxy
	scheme  string
	// transport carries forwarded requests; nil is http.DefaultTransport.
	transport http.RoundTripper
}

func newForwarder(node *raftstore.Node, log *slog.Logger) *forwarder {
	return &forwarder{node: node, log: log, proxies: map[string]*httputil.ReverseProxy{}, scheme: "http"}
}

// useTLS forwards over https, verifying the leader with cfg (its RootCAs).
// The caller's Authorization header travels with the request, so the
// leader authenticates it again.
func (f *forwarder) useTLS(cfg *tls.Config) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg.Clone()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scheme, f.transport = "https", t
	clear(f.proxies)
}

// leaderAddr returns the leader's HTTP address.
func (f *forwarder) leaderAddr() (string, error) {
	id, _ := f.node.Leader()
	if id == "" {
		return "", errNoLeader
	}
	addr := f.node.State().Members()[id]
	if addr == "" {
		return "", fmt.Errorf("%w (leader %s has not published its HTTP address yet)", errNoLeader, id)
	}
	return addr, nil
}

// forward proxies r to the leader, or answers 503 when none is known.
func (f *forwarder) forward(w http.ResponseWriter, r *http.Request, onErr func(error)) {
	if r.Header.Get(forwardedHeader) != "" {
		onErr(fmt.Errorf("%w: forwarded request reached a non-leader", errNoLeader))
		return
	}
	addr, err := f.leaderAddr()
	if err != nil {
		onErr(err)
		return
	}
	r.Header.Set(forwardedHeader, f.node.ID())
	f.proxyFor(addr, onErr).ServeHTTP(w, r)
}

func (f *forwarder) proxyFor(addr string, onErr func(error)) *httputil.ReverseProxy {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.proxies[addr]; ok {
		return p
	}
	target := &url.URL{Scheme: f.scheme, Host: addr}
	p := &httputil.ReverseProxy{
		Transport: f.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.log.Warn("forward to leader failed", "leader", addr, "path", r.URL.Path, "err", err)
			writeForwardError(w, err)
		},
	}
	f.proxies[addr] = p
	return p
}

func writeForwardError(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	status := http.StatusServiceUnavailable
	if errors.Is(err, http.ErrAbortHandler) {
		return
	}
	writeJSON(w, status, errorBody("Unavailable", fmt.Sprintf("forward to leader: %v", err)))
}
