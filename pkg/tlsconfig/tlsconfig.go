// Package tlsconfig builds the TLS configuration of jobplane's own listeners
// (the client service's gRPC and REST ports, the server service's admin port)
// from TLS_CERT, TLS_KEY and TLS_CLIENT_CA, and generates the development
// certificates of `devstack --tls` (devcerts.go).
//
// With TLS_CERT and TLS_KEY set, the listeners speak TLS 1.3 only. With
// TLS_CLIENT_CA also set, every client must present a certificate signed by
// that CA (mutual TLS). The REST gateway of the client service calls its own
// gRPC server over loopback: it presents TLS_CERT as its client certificate
// and accepts exactly that certificate from the server (pinned), so TLS_CERT
// must carry both the serverAuth and the clientAuth extended key usages and,
// with mutual TLS, be signed by TLS_CLIENT_CA (Load checks this).
package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/jobplane/jobplane/pkg/env"
)

// Files names the PEM files of a service's TLS identity. The zero value
// means plaintext.
type Files struct {
	Cert     string // TLS_CERT: certificate chain (PEM), leaf first
	Key      string // TLS_KEY: private key of the leaf (PEM)
	ClientCA string // TLS_CLIENT_CA: CA certificates (PEM) that client certificates must chain to; empty = no client certificates asked
}

// FromEnv reads TLS_CERT, TLS_KEY and TLS_CLIENT_CA.
func FromEnv(r *env.Reader) Files {
	return Files{
		Cert:     r.String("TLS_CERT", ""),
		Key:      r.String("TLS_KEY", ""),
		ClientCA: r.String("TLS_CLIENT_CA", ""),
	}
}

// Enabled reports whether the listeners use TLS.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" }

// Validate checks that the variables are set together; it does not read the
// files (Load does).
func (f Files) Validate() error {
	var errs []error
	if f.Cert != "" && f.Key == "" {
		errs = append(errs, errors.New("TLS_KEY: required when TLS_CERT is set"))
	}
	if f.Key != "" && f.Cert == "" {
		errs = append(errs, errors.New("TLS_CERT: required when TLS_KEY is set"))
	}
	if f.ClientCA != "" && !f.Enabled() {
		errs = append(errs, errors.New("TLS_CLIENT_CA: requires TLS_CERT and TLS_KEY (client certificates are only asked over TLS)"))
	}
	return errors.Join(errs...)
}

// Config is a loaded TLS identity. A nil *Config means plaintext.
type Config struct {
	cert      tls.Certificate
	clientCAs *x509.CertPool
}

// Load reads the files. It returns nil, nil when TLS is not configured.
// Errors name the variable whose file is missing or malformed.
func (f Files) Load() (*Config, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if !f.Enabled() {
		return nil, nil
	}
	certPEM, err := os.ReadFile(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("TLS_CERT=%s: %w", f.Cert, err)
	}
	keyPEM, err := os.ReadFile(f.Key)
	if err != nil {
		return nil, fmt.Errorf("TLS_KEY=%s: %w", f.Key, err)
	}
	if !bytes.Contains(certPEM, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("TLS_CERT=%s: no PEM certificate found", f.Cert)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS_CERT=%s, TLS_KEY=%s: %w", f.Cert, f.Key, err)
	}
	c := &Config{cert: cert}
	if f.ClientCA != "" {
		if c.clientCAs, err = LoadPool(f.ClientCA); err != nil {
			return nil, fmt.Errorf("TLS_CLIENT_CA=%s: %w", f.ClientCA, err)
		}
		// The REST gateway presents TLS_CERT to the gRPC port: say so at
		// start-up rather than answering every REST call 503.
		if err := c.verifyAsClient(); err != nil {
			return nil, fmt.Errorf("TLS_CERT=%s: not valid as a client certificate under TLS_CLIENT_CA=%s (it needs the clientAuth extended key usage too): %w", f.Cert, f.ClientCA, err)
		}
	}
	return c, nil
}

// verifyAsClient checks the service certificate as the server would check
// a client's.
func (c *Config) verifyAsClient() error {
	leaf, err := x509.ParseCertificate(c.cert.Certificate[0])
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, der := range c.cert.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: c.clientCAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

// Client returns a client TLS 1.3 configuration that trusts the CA
// certificates in caFile (empty: the system roots) and, for mutual TLS,
// presents certFile/keyFile (both empty: no client certificate). The SDK,
// jobctl and devstack's dev certificates use it.
func Client(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if caFile != "" {
		pool, err := LoadPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: %w", caFile, err)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// LoadPool reads a PEM file of CA certificates.
func LoadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path) // #nosec G304 -- the operator names the file (TLS_CLIENT_CA, KAFKA_TLS_CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificates found")
	}
	return pool, nil
}

// MutualTLS reports whether clients must present a certificate.
func (c *Config) MutualTLS() bool { return c != nil && c.clientCAs != nil }

// Server returns a fresh server configuration: TLS 1.3 minimum, HTTP/2 and
// HTTP/1.1 offered (for an http.Server serving a tls.NewListener), and with
// a client CA, a verified client certificate required.
func (c *Config) Server() *tls.Config {
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if c.clientCAs != nil {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		tc.ClientCAs = c.clientCAs
	}
	return tc
}

// Loopback returns the client configuration a service uses to call its own
// listener (the REST gateway dialing the gRPC server): it presents the
// service certificate as its client certificate and accepts only that same
// certificate from the server. Pinning the exact certificate is stricter than
// verifying a chain and needs no loopback name in the certificate.
func (c *Config) Loopback() *tls.Config {
	want := c.cert.Certificate[0]
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.cert},
		// The chain and name checks are replaced by the pin in
		// VerifyConnection, which runs on every handshake.
		InsecureSkipVerify: true, // #nosec G402 -- the peer is pinned to our own certificate below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("loopback peer does not present this service's TLS_CERT")
			}
			return nil
		},
	}
}
