package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevCerts are the files of a development PKI: a CA, a service certificate
// (serverAuth and clientAuth, for 127.0.0.1, ::1 and localhost) and a client
// certificate (clientAuth), all signed by the CA. Not for production.
type DevCerts struct {
	Dir        string
	CA         string // ca.pem: trust it to verify the services; TLS_CLIENT_CA
	ServiceCrt string // service.pem: TLS_CERT
	ServiceKey string // service-key.pem: TLS_KEY
	ClientCrt  string // client.pem: for grpcurl, curl and tests
	ClientKey  string // client-key.pem
}

// devValidity is the lifetime of generated certificates; devRenewBefore is
// how long before expiry EnsureDevCerts replaces them.
const (
	devValidity    = 2 * 365 * 24 * time.Hour
	devRenewBefore = 7 * 24 * time.Hour
)

// EnsureDevCerts returns the development certificates in dir, generating
// them when a file is missing, unreadable or about to expire, and reusing
// them otherwise (so that clients configured with them keep working across
// restarts). Private keys are written with mode 0600.
func EnsureDevCerts(dir string) (DevCerts, error) {
	d := DevCerts{
		Dir:        dir,
		CA:         filepath.Join(dir, "ca.pem"),
		ServiceCrt: filepath.Join(dir, "service.pem"),
		ServiceKey: filepath.Join(dir, "service-key.pem"),
		ClientCrt:  filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	if d.valid(time.Now()) {
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return d, fmt.Errorf("dev certificates: %w", err)
	}
	if err := d.generate(time.Now()); err != nil {
		return d, fmt.Errorf("dev certificates in %s: %w", dir, err)
	}
	return d, nil
}

// valid reports whether every file exists, the key pairs match, the leaves
// chain to the CA and none expires soon.
func (d DevCerts) valid(now time.Time) bool {
	pool, err := LoadPool(d.CA)
	if err != nil {
		return false
	}
	for _, p := range [][2]string{{d.ServiceCrt, d.ServiceKey}, {d.ClientCrt, d.ClientKey}} {
		pair, err := tls.LoadX509KeyPair(p[0], p[1])
		if err != nil {
			return false
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil || now.Add(devRenewBefore).After(leaf.NotAfter) {
			return false
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return false
		}
	}
	return true
}

func (d DevCerts) generate(now time.Time) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"jobplane devstack"}, CommonName: "jobplane devstack CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(devValidity + 24*time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	leaves := []struct {
		crt, key string
		tmpl     *x509.Certificate
	}{
		{d.ServiceCrt, d.ServiceKey, &x509.Certificate{
			Subject:     pkix.Name{Organization: []string{"jobplane devstack"}, CommonName: "jobplane service"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames:    []string{"localhost"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}},
		{d.ClientCrt, d.ClientKey, &x509.Certificate{
			Subject:     pkix.Name{Organization: []string{"jobplane devstack"}, CommonName: "jobplane client"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
	}
	for _, l := range leaves {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		l.tmpl.SerialNumber = serial()
		l.tmpl.NotBefore, l.tmpl.NotAfter = now.Add(-time.Hour), now.Add(devValidity)
		l.tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, l.tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(l.crt, "CERTIFICATE", der, 0o644); err != nil {
			return err
		}
		if err := writePEM(l.key, "PRIVATE KEY", keyDER, 0o600); err != nil {
			return err
		}
	}
	// The CA last: valid() needs it, so a run interrupted before this point
	// regenerates everything.
	return writePEM(d.CA, "CERTIFICATE", caDER, 0o644)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// writePEM writes the file atomically (temporary file, then rename).
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	// A leftover must not keep its mode.
	_ = os.Remove(tmp)
	// #nosec G304 -- a path under the devstack data dir
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	err = pem.Encode(f, &pem.Block{Type: typ, Bytes: der})
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// ClientConfig returns a client TLS configuration that trusts the dev CA
// and presents the client certificate.
func (d DevCerts) ClientConfig() (*tls.Config, error) {
	return Client(d.CA, d.ClientCrt, d.ClientKey)
}
