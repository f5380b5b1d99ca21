//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	fedclient "github.com/federation-dev/federation/federation/client"
)

// securePKI writes a throwaway CA and one certificate per replica (for
// 127.0.0.1, server and client use) into dir.
func securePKI(t *testing.T, dir string, names ...string) (ca string, certs map[string][2]string) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(2 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca = write("ca.pem", "CERTIFICATE", caDER)
	certs = map[string][2]string{}
	for i, n := range names {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: n},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(2 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalECPrivateKey(key)
		certs[n] = [2]string{write(n+".pem", "CERTIFICATE", der), write(n+"-key.pem", "EC PRIVATE KEY", kd)}
	}
	return ca, certs
}

// TestSecureControlPlane runs the real binaries as production would: three
// replicas with tokens, the API on https and Raft on mutual TLS, joined
// over https with an admin token; a sim agent with its cluster's token and
// the CA; fedctl with the CA. It checks that work flows, that identities
// bind (an agent token of another cluster and a missing token are
// refused), that the Raft port refuses a client without a certificate, and
// that SIGHUP loads a new token without a restart.
func TestSecureControlPlane(t *testing.T) {
	env := NewEnv(t, 3*time.Minute)
	ca, certs := securePKI(t, env.Dir, "cp1", "cp2", "cp3")
	const (
		admin  = "e2e-admin-0123456789abcdef"
		sub    = "e2e-sub-0123456789abcdef"
		agentA = "e2e-agent-a-0123456789abcdef"
		agentB = "e2e-agent-b-0123456789abcdef"
		late   = "e2e-late-0123456789abcdef"
	)
	tokenFile := filepath.Join(env.Dir, "tokens.csv")
	writeTokens := func(lines ...string) {
		tmp := tokenFile + ".new"
		if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokenFile); err != nil {
			t.Fatal(err)
		}
	}
	tokens := []string{admin + ",sre,admin,", sub + ",ci,submitter,pricing", agentA + ",agent-a,agent,sec-a", agentB + ",agent-b,agent,sec-b"}
	writeTokens(tokens...)

	var urls, raftAddrs []string
	var servers []*Proc
	for i, id := range []string{"cp1", "cp2", "cp3"} {
		httpAddr, raftAddr := env.FreeAddr(), env.FreeAddr()
		args := []string{"--id", id, "--data-dir", filepath.Join(env.Dir, id), "--http-addr", httpAddr, "--raft-addr", raftAddr,
			"--token-file", tokenFile, "--tls-cert", certs[id][0], "--tls-key", certs[id][1], "--tls-ca", ca,
			"--heartbeat-timeout", "3s", "--settle-time", "0s"}
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", urls[0], "--join-token", admin)
		}
		servers = append(servers, env.StartProc(id, filepath.Join(env.BinDir, "federation-server"), args...))
		urls, raftAddrs = append(urls, "https://"+httpAddr), append(raftAddrs, raftAddr)
	}
	tc, err := fedclient.TLSConfigForCA(ca)
	if err != nil {
		t.Fatal(err)
	}
	adminC, _ := fedclient.New(urls[2], fedclient.WithTLSConfig(tc), fedclient.WithToken(admin))
	env.Eventually(60*time.Second, "three voters with a leader over mutual TLS", func() (bool, error) {
		st, err := adminC.RaftStatus(env.Ctx)
		return err == nil && st.Leader != nil && len(st.Members) == 3, nil
	})

	for _, name := range []string{"sec-a", "sec-b"} {
		if _, _, err := adminC.RegisterCluster(env.Ctx, v1.ClusterSpec{Name: name, Labels: map[string]string{"name": name}}); err != nil {
			t.Fatal(err)
		}
	}
	agentArgs := func(cluster, token string) []string {
		return []string{"--cluster", cluster, "--server", urls[1], "--token", token, "--ca", ca, "--backend", "sim",
			"--sim-task-duration", "100ms", "--heartbeat-interval", "300ms", "--metrics-addr", ""}
	}
	env.StartProc("agent-a", filepath.Join(env.BinDir, "cluster-agent"), agentArgs("sec-a", agentA)...)
	// sec-b's agent holds sec-a's token: every call it makes is refused.
	impostor := env.StartProc("agent-b-impostor", filepath.Join(env.BinDir, "cluster-agent"), agentArgs("sec-b", agentA)...)

	subC, _ := fedclient.New(urls[1], fedclient.WithTLSConfig(tc), fedclient.WithToken(sub))
	spec := v1.ExecutionSpec{Project: "pricing", Domain: "production", Name: "secure-1",
		Workflow: v1.WorkflowSpec{Nodes: []v1.TaskNode{{ID: "a", Image: "busybox", Resources: v1.Resources{CPU: "100m"}}}}}
	if _, _, err := subC.SubmitExecution(env.Ctx, spec); err != nil {
		t.Fatalf("submitter via a follower over https: %v", err)
	}
	env.Eventually(60*time.Second, "the execution to succeed on sec-a", func() (bool, error) {
		ex, err := subC.GetExecution(env.Ctx, spec.Key(), false)
		return err == nil && ex.Phase == v1.PhaseSucceeded && ex.Cluster == "sec-a", nil
	})
	other := spec
	other.Project = "ads"
	if _, _, err := subC.SubmitExecution(env.Ctx, other); fedclient.StatusOf(err) != 403 {
		t.Fatalf("submitter of pricing submitting to ads: %v, want 403", err)
	}
	if c, _ := adminC.GetCluster(env.Ctx, "sec-b"); c.Capacity != nil {
		t.Fatal("the impostor agent's heartbeats for sec-b were accepted")
	}
	if !strings.Contains(impostor.Tail(200), "403") && !strings.Contains(impostor.Tail(200), "Forbidden") {
		t.Fatalf("the impostor agent's log shows no refusal:\n%s", impostor.Tail(20))
	}

	// fedctl with the CA and a token; without a token it is told why.
	fedctl := func(token string, args ...string) (string, error) {
		cmd := exec.CommandContext(env.Ctx, filepath.Join(env.BinDir, "fedctl"), append([]string{"--server", urls[0], "--ca", ca}, args...)...)
		cmd.Env = append(os.Environ(), "FEDCTL_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := fedctl(admin, "cluster", "list"); err != nil || !strings.Contains(out, "sec-a") {
		t.Fatalf("fedctl cluster list with the admin token: %v\n%s", err, out)
	}
	if out, err := fedctl("", "cluster", "list"); err == nil || !strings.Contains(out, "bearer token") {
		t.Fatalf("fedctl without a token: %v\n%s", err, out)
	}

	// The Raft port wants a client certificate of the CA.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", raftAddrs[0], &tls.Config{RootCAs: tc.RootCAs, ServerName: "127.0.0.1"})
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = conn.Write([]byte{0})
		_, err = conn.Read(make([]byte, 1))
		_ = conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("raft port without a client certificate: %v, want refused", err)
	}

	// A new token works after SIGHUP, without a restart.
	lateC, _ := fedclient.New(urls[0], fedclient.WithTLSConfig(tc), fedclient.WithToken(late))
	if _, err := lateC.RaftStatus(env.Ctx); fedclient.StatusOf(err) != 401 {
		t.Fatalf("unknown token: %v, want 401", err)
	}
	writeTokens(append(tokens, late+",late-sre,admin,")...)
	for _, s := range servers {
		if err := syscall.Kill(s.Pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	env.Eventually(10*time.Second, "the new token to be accepted", func() (bool, error) {
		_, err := lateC.RaftStatus(env.Ctx)
		return err == nil, nil
	})
}
