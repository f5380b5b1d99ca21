package federation

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSFiles names the PEM files of a replica's TLS identity: its certificate
// and key (used for the HTTP API and, with mutual authentication, for the
// Raft transport) and the CA that signed every replica's certificate.
type TLSFiles struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// Enabled reports whether any file is named.
func (f TLSFiles) Enabled() bool { return f.CertFile != "" || f.KeyFile != "" || f.CAFile != "" }

// TLSIdentity is a loaded TLS identity.
type TLSIdentity struct {
	Certificate tls.Certificate
	// Roots verifies peers: replicas on the Raft port, the leader when
	// forwarding.
	Roots *x509.CertPool
}

// Load reads the three files; all are required.
func (f TLSFiles) Load() (*TLSIdentity, error) {
	var errs []error
	for _, x := range []struct{ flag, v string }{{"--tls-cert", f.CertFile}, {"--tls-key", f.KeyFile}, {"--tls-ca", f.CAFile}} {
		if x.v == "" {
			errs = append(errs, fmt.Errorf("%s is required with TLS", x.flag))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s: %w", f.CertFile, err)
	}
	roots, err := LoadCAPool(f.CAFile)
	if err != nil {
		return nil, err
	}
	return &TLSIdentity{Certificate: cert, Roots: roots}, nil
}

// LoadCAPool reads a PEM bundle of CA certificates.
func LoadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// ServerConfig serves the HTTP API. Clients are not asked for a
// certificate: bearer tokens authenticate them.
func (id *TLSIdentity) ServerConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{id.Certificate}}
}

// ClientConfig dials other replicas' HTTP API (forwarding to the leader,
// joining): it verifies them against the CA and presents this replica's
// certificate.
func (id *TLSIdentity) ClientConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: id.Roots, Certificates: []tls.Certificate{id.Certificate}}
}
