package raftstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// TLSStreamLayer carries Raft traffic over mutually authenticated TLS: it
// accepts only peers whose client certificate the CA signed, and dials peers
// verifying their server certificate against the same CA. Every replica
// needs a certificate valid for both uses (extended key usages serverAuth
// and clientAuth) naming the host or IP of its advertised address.
type TLSStreamLayer struct {
	net.Listener
	advertise net.Addr
	client    *tls.Config
}

var _ raft.StreamLayer = (*TLSStreamLayer)(nil)

// NewTLSStreamLayer listens on bindAddr ("127.0.0.1:0" picks a port) and
// advertises advertiseAddr (default: the bound address). cert is this
// replica's certificate and key; roots is the CA pool peers are checked
// against.
func NewTLSStreamLayer(bindAddr, advertiseAddr string, cert tls.Certificate, roots *x509.CertPool) (*TLSStreamLayer, error) {
	if roots == nil {
		return nil, errors.New("raft TLS: a CA pool is required to verify peers")
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("raft TLS: a certificate is required")
	}
	server := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	ln, err := net.Listen("tcp", bindAddr)
	if err != nil {
		return nil, fmt.Errorf("raft TLS: listen on %s: %w", bindAddr, err)
	}
	l := &TLSStreamLayer{
		Listener:  tls.NewListener(ln, server),
		advertise: ln.Addr(),
		client: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			RootCAs:      roots,
		},
	}
	if advertiseAddr != "" {
		a, err := net.ResolveTCPAddr("tcp", advertiseAddr)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("raft TLS: advertise address %q: %w", advertiseAddr, err)
		}
		l.advertise = a
	}
	return l, nil
}

// Addr is the address peers dial.
func (l *TLSStreamLayer) Addr() net.Addr { return l.advertise }

// Dial connects to a peer and completes the handshake within timeout, so
// that a peer with a bad certificate fails the dial, not a later RPC.
func (l *TLSStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	host, _, err := net.SplitHostPort(string(addr))
	if err != nil {
		return nil, fmt.Errorf("raft TLS: peer address %q: %w", addr, err)
	}
	cfg := l.client.Clone()
	cfg.ServerName = host
	// From the bind IP, as plain TCP does (see bindDialer).
	d := bindDialer(l.Listener.Addr(), timeout)
	conn, err := tls.DialWithDialer(d, "tcp", string(addr), cfg)
	if err != nil {
		return nil, fmt.Errorf("raft TLS: dial %s: %w", addr, err)
	}
	return conn, nil
}
