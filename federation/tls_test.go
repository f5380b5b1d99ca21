package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/raftstore"
)

// writeTestPKI generates a CA and one certificate per name (for
// 127.0.0.1, server and client use) into dir, as PEM files, and returns
// the CA file and each name's TLSFiles.
func writeTestPKI(t *testing.T, dir string, names ...string) (string, map[string]TLSFiles) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "federation-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	caFile := write("ca.pem", "CERTIFICATE", caDER)
	out := map[string]TLSFiles{}
	for i, name := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = TLSFiles{CertFile: write(name+".pem", "CERTIFICATE", der), KeyFile: write(name+"-key.pem", "EC PRIVATE KEY", keyDER), CAFile: caFile}
	}
	return caFile, out
}

// startTLSReplica serves a replica's API over TLS and its Raft traffic over
// mutual TLS, as federation-server does with --tls-*.
func startTLSReplica(t *testing.T, id, dir string, bootstrap bool, files TLSFiles, mutate func(*Config)) *replica {
	t.Helper()
	tid, err := files.Load()
	if err != nil {
		t.Fatal(err)
	}
	layer, err := raftstore.NewTLSStreamLayer("127.0.0.1:0", "", tid.Certificate, tid.Roots)
	if err != nil {
		t.Fatal(err)
	}
	node, err := raftstore.Open(raftstore.Config{
		ID: id, Dir: dir, StreamLayer: layer, Bootstrap: bootstrap, NoSync: true,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond, CommitTimeout: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open node %s: %v", id, err)
	}
	cfg := testConfig()
	cfg.TLS, cfg.ForwardTLS = tid.ServerConfig(), tid.ClientConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, node)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{id: id, dir: dir, node: node, srv: srv, url: "https://" + addr, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = srv.Run(ctx) }()
	tc, err := client.TLSConfigForCA(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if r.client, err = client.New(r.url, client.WithTLSConfig(tc), client.WithToken(tokAdmin)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// TestTLSControlPlane: three replicas with the API on https, Raft on mutual
// TLS and tokens on; a follower forwards a write to the leader over https
// with the caller's token; a plain-http client and a client that does not
// trust the CA get nowhere.
func TestTLSControlPlane(t *testing.T) {
	base := t.TempDir()
	caFile, files := writeTestPKI(t, base, "r1", "r2", "r3")
	auth := withAuth(t, nil)
	var rs []*replica
	for i, id := range []string{"r1", "r2", "r3"} {
		r := startTLSReplica(t, id, filepath.Join(base, id), i == 0, files[id], auth)
		if i == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := r.node.WaitForLeader(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		} else {
			join(t, rs[0].client, r)
		}
		rs = append(rs, r)
	}
	waitUntil(t, 20*time.Second, "three members with a leader", func() bool {
		for _, r := range rs {
			if id, _ := r.node.Leader(); id == "" || len(r.node.State().Members()) != 3 {
				return false
			}
		}
		return true
	})
	f := followerOf(t, rs)
	ctx := ctxT(t)
	tc, err := client.TLSConfigForCA(caFile)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := client.New(f.url, client.WithTLSConfig(tc), client.WithToken(tokSubA))
	if err != nil {
		t.Fatal(err)
	}
	ex, created, err := sub.SubmitExecution(ctx, spec("a", "over-tls"))
	if err != nil || !created {
		t.Fatalf("submit over https through a follower: created=%v err=%v", created, err)
	}
	for _, r := range rs {
		waitUntil(t, 10*time.Second, "the execution on "+r.id+" over mutual-TLS Raft", func() bool {
			_, ok := r.node.State().Execution(ex.Key())
			return ok
		})
	}
	// The forwarded request kept the submitter's identity: its scope still
	// binds on the leader.
	if _, _, err := sub.SubmitExecution(ctx, spec("b", "over-tls")); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("out-of-scope submit through a follower: %v, want 403", err)
	}

	// Plain http to the TLS port: refused by the server (400 from Go's TLS
	// listener, no API answer).
	plain := "http://" + strings.TrimPrefix(f.url, "https://")
	req, _ := http.NewRequestWithContext(ctx, "GET", plain+v1.APIPrefix+"/raft", nil)
	req.Header.Set("Authorization", "Bearer "+tokAdmin)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), `"members"`) {
			t.Fatalf("plain http reached the API: %d %s", resp.StatusCode, body)
		}
	}
	// A client that does not trust the CA refuses the server.
	untrusting, _ := client.New(f.url, client.WithToken(tokAdmin))
	if _, err := untrusting.RaftStatus(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("client without the CA: %v, want a certificate error", err)
	}
}

func TestTLSFilesLoad(t *testing.T) {
	dir := t.TempDir()
	_, files := writeTestPKI(t, dir, "r1")
	good := files["r1"]
	if _, err := good.Load(); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files TLSFiles
		want  string
	}{
		{"missing key", TLSFiles{CertFile: good.CertFile, CAFile: good.CAFile}, "--tls-key is required"},
		{"missing all", TLSFiles{}, "--tls-cert is required"},
		{"CA not PEM", TLSFiles{CertFile: good.CertFile, KeyFile: good.KeyFile, CAFile: junk}, "no PEM certificate"},
		{"key of another cert", TLSFiles{CertFile: good.CertFile, KeyFile: junk, CAFile: good.CAFile}, "load TLS certificate"},
		{"no such CA", TLSFiles{CertFile: good.CertFile, KeyFile: good.KeyFile, CAFile: filepath.Join(dir, "nope")}, "read CA file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.files.Load(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want %q", err, tc.want)
			}
		})
	}
}
