package raftstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testCA is a throwaway certificate authority generated at test time.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue signs a certificate for 127.0.0.1 good for both TLS server and
// client use, as a replica's must be.
func (ca *testCA) issue(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsCluster is three nodes whose Raft traffic runs over mutual TLS.
func tlsCluster(t *testing.T, ca *testCA) (*testCluster, map[string]*TLSStreamLayer) {
	layers := map[string]*TLSStreamLayer{}
	c := newTestCluster(t, 3, func(cfg *Config) {
		l, err := NewTLSStreamLayer("127.0.0.1:0", "", ca.issue(t, cfg.ID), ca.pool)
		if err != nil {
			t.Fatal(err)
		}
		layers[cfg.ID] = l
		cfg.StreamLayer, cfg.BindAddr = l, ""
	})
	return c, layers
}

func TestRaftReplicatesOverMutualTLS(t *testing.T) {
	c, layers := tlsCluster(t, newTestCA(t, "raft-ca"))
	ctx := testCtx(t, 15*time.Second)
	leader := c.leader()
	if leader.RaftAddr() != layers[leader.ID()].Addr().String() {
		t.Fatalf("advertised %s, TLS layer listens on %s", leader.RaftAddr(), layers[leader.ID()].Addr())
	}
	keys := submitN(ctx, leader, "tls", 30, 3)
	for _, n := range c.nodes {
		hasAll(t, n, keys, 10*time.Second)
	}
}

// TestRaftPortRefusesPeersWithoutAValidClientCertificate: a client with no
// certificate, one signed by another CA, or one speaking plain TCP gets
// nothing from the Raft port; one with a certificate of the CA does.
func TestRaftPortRefusesPeersWithoutAValidClientCertificate(t *testing.T) {
	ca := newTestCA(t, "raft-ca")
	rogue := newTestCA(t, "rogue-ca")
	c, _ := tlsCluster(t, ca)
	addr := c.leader().RaftAddr()

	// handshake dials with cfg and reads: the server's verdict on the
	// client certificate arrives as an alert on the first read under TLS
	// 1.3, during the handshake under 1.2.
	handshake := func(cfg *tls.Config) error {
		d := &net.Dialer{Timeout: 2 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		// An AppendEntries-looking byte; a refused peer never gets an answer.
		if _, err := conn.Write([]byte{0}); err != nil {
			return err
		}
		_, err = conn.Read(make([]byte, 1))
		return err
	}
	cases := []struct {
		name    string
		cfg     *tls.Config
		refused string // substring of the error; empty: accepted
	}{
		{"no client certificate, TLS 1.3", &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"}, "certificate required"},
		{"no client certificate, TLS 1.2", &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}, "handshake failure"},
		{"certificate of another CA", &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// Sent although the server asks for its own CA's: a forger would.
			c := rogue.issue(t, "rogue")
			return &c, nil
		}}, "unknown certificate authority"},
		{"server checked against another CA", &tls.Config{RootCAs: rogue.pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{rogue.issue(t, "rogue")}}, "certificate signed by unknown authority"},
		{"certificate of the CA", &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{ca.issue(t, "peer")}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(tc.cfg)
			if tc.refused == "" {
				// Accepted: the server waits for a whole RPC, so the read
				// times out rather than failing.
				var ne net.Error
				if err == nil || !(strings.Contains(err.Error(), "timeout") || (asNetErr(err, &ne) && ne.Timeout())) {
					t.Fatalf("a peer with a valid certificate: %v, want it accepted (read timeout)", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("got %v, want refusal mentioning %q", err, tc.refused)
			}
		})
	}
	t.Run("plain TCP", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		// The first bytes of a raft RPC (rpcAppendEntries), not a ClientHello.
		_, _ = conn.Write([]byte{0, 0x82, 0xa4, 'T', 'e', 'r', 'm', 1, '\n', '\n', '\n', '\n', '\n'})
		b, err := io.ReadAll(conn)
		// The server answers with at most a TLS alert record (0x15) and
		// hangs up: never a Raft response.
		if len(b) > 0 && b[0] != 0x15 {
			t.Fatalf("plain TCP got %d bytes back that are no TLS alert: %x (err %v)", len(b), b, err)
		}
	})
	// The cluster still works after the attempts.
	keys := submitN(testCtx(t, 10*time.Second), c.leader(), "after", 5, 1)
	for _, n := range c.nodes {
		hasAll(t, n, keys, 10*time.Second)
	}
}

func asNetErr(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

func TestNewTLSStreamLayerNeedsCertificateAndCA(t *testing.T) {
	ca := newTestCA(t, "ca")
	if _, err := NewTLSStreamLayer("127.0.0.1:0", "", tls.Certificate{}, ca.pool); err == nil {
		t.Fatal("no certificate accepted")
	}
	if _, err := NewTLSStreamLayer("127.0.0.1:0", "", ca.issue(t, "x"), nil); err == nil {
		t.Fatal("no CA accepted")
	}
	l, err := NewTLSStreamLayer("127.0.0.1:0", "127.0.0.1:7777", ca.issue(t, "x"), ca.pool)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Addr().String() != "127.0.0.1:7777" {
		t.Fatalf("advertised %s, want 127.0.0.1:7777", l.Addr())
	}
}
