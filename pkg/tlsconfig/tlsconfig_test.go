package tlsconfig_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/tlsconfig"
)

// setup generates a dev PKI in a temporary directory.
func setup(t *testing.T) tlsconfig.DevCerts {
	t.Helper()
	d, err := tlsconfig.EnsureDevCerts(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"TLS_CERT": "/c.pem", "TLS_KEY": "/k.pem", "TLS_CLIENT_CA": "/ca.pem"}
	r := &env.Reader{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	got := tlsconfig.FromEnv(r)
	if got != (tlsconfig.Files{Cert: "/c.pem", Key: "/k.pem", ClientCA: "/ca.pem"}) || !got.Enabled() {
		t.Fatalf("FromEnv = %+v", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files tlsconfig.Files
		want  string // substring of the error; "" = valid
	}{
		{"plaintext", tlsconfig.Files{}, ""},
		{"tls", tlsconfig.Files{Cert: "c", Key: "k"}, ""},
		{"mtls", tlsconfig.Files{Cert: "c", Key: "k", ClientCA: "ca"}, ""},
		{"cert without key", tlsconfig.Files{Cert: "c"}, "TLS_KEY"},
		{"key without cert", tlsconfig.Files{Key: "k"}, "TLS_CERT"},
		{"client ca without cert", tlsconfig.Files{ClientCA: "ca"}, "TLS_CLIENT_CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.files.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	d := setup(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	other := setup(t)
	tests := []struct {
		name  string
		files tlsconfig.Files
		want  string
	}{
		{"missing cert", tlsconfig.Files{Cert: missing, Key: d.ServiceKey}, "TLS_CERT=" + missing},
		{"missing key", tlsconfig.Files{Cert: d.ServiceCrt, Key: missing}, "TLS_KEY=" + missing},
		{"garbage cert", tlsconfig.Files{Cert: garbage, Key: d.ServiceKey}, "TLS_CERT=" + garbage},
		{"garbage key", tlsconfig.Files{Cert: d.ServiceCrt, Key: garbage}, "TLS_KEY=" + garbage},
		{"mismatched pair", tlsconfig.Files{Cert: d.ServiceCrt, Key: d.ClientKey}, "TLS_CERT="},
		{"missing client ca", tlsconfig.Files{Cert: d.ServiceCrt, Key: d.ServiceKey, ClientCA: missing}, "TLS_CLIENT_CA=" + missing},
		{"garbage client ca", tlsconfig.Files{Cert: d.ServiceCrt, Key: d.ServiceKey, ClientCA: garbage}, "TLS_CLIENT_CA=" + garbage},
		{"invalid combination", tlsconfig.Files{Cert: d.ServiceCrt}, "TLS_KEY"},
		{"service certificate of another CA", tlsconfig.Files{Cert: d.ServiceCrt, Key: d.ServiceKey, ClientCA: other.CA}, "not valid as a client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := tt.files.Load()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() = %v, %v; want an error containing %q", c, err, tt.want)
			}
		})
	}
}

func TestLoadDisabled(t *testing.T) {
	t.Parallel()
	c, err := tlsconfig.Files{}.Load()
	if c != nil || err != nil {
		t.Fatalf("Load() = %v, %v; want nil, nil", c, err)
	}
	if c.MutualTLS() {
		t.Fatal("nil config reports mutual TLS")
	}
}

// serve starts an HTTPS server with the configuration of files.
func serve(t *testing.T, files tlsconfig.Files) *httptest.Server {
	t.Helper()
	c, err := files.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(tls.VersionName(r.TLS.Version)))
	}))
	srv.TLS = c.Server()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func get(url string, tc *tls.Config) (string, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return b.String(), err
}

func TestServer(t *testing.T) {
	t.Parallel()
	d := setup(t)
	other := setup(t) // a second, unrelated PKI
	mtls := serve(t, tlsconfig.Files{Cert: d.ServiceCrt, Key: d.ServiceKey, ClientCA: d.CA})
	plain := serve(t, tlsconfig.Files{Cert: d.ServiceCrt, Key: d.ServiceKey})

	client, err := d.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	otherClient, err := other.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	roots := client.Clone()
	roots.Certificates = nil
	tls12 := client.Clone()
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	// The other PKI's client certificate, while trusting our CA.
	foreign := client.Clone()
	foreign.Certificates = otherClient.Certificates

	tests := []struct {
		name   string
		url    string
		client *tls.Config
		ok     bool
	}{
		{"mtls with client certificate", mtls.URL, client, true},
		{"mtls without client certificate", mtls.URL, roots, false},
		{"mtls with a certificate of another CA", mtls.URL, foreign, false},
		{"tls 1.2 refused", mtls.URL, tls12, false},
		{"tls without client ca needs no certificate", plain.URL, roots, true},
		{"service certificate is valid for 127.0.0.1", plain.URL, &tls.Config{RootCAs: roots.RootCAs, ServerName: "127.0.0.1"}, true},
		{"service certificate is valid for localhost", plain.URL, &tls.Config{RootCAs: roots.RootCAs, ServerName: "localhost"}, true},
		{"untrusted server", plain.URL, otherClient, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, err := get(tt.url, tt.client)
			if tt.ok && (err != nil || body != "TLS 1.3") {
				t.Fatalf("got %q, %v; want TLS 1.3", body, err)
			}
			if !tt.ok && err == nil {
				t.Fatalf("got %q, want a handshake error", body)
			}
		})
	}
}

func TestLoopbackPinsTheServiceCertificate(t *testing.T) {
	t.Parallel()
	d := setup(t)
	files := tlsconfig.Files{Cert: d.ServiceCrt, Key: d.ServiceKey, ClientCA: d.CA}
	c, err := files.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !c.MutualTLS() {
		t.Fatal("MutualTLS() = false with TLS_CLIENT_CA")
	}
	self := serve(t, files)
	if body, err := get(self.URL, c.Loopback()); err != nil || body != "TLS 1.3" {
		t.Fatalf("loopback to itself: %q, %v", body, err)
	}
	// Another server, even one with a certificate of the same CA, is refused.
	other := setup(t)
	stranger := serve(t, tlsconfig.Files{Cert: other.ServiceCrt, Key: other.ServiceKey})
	if _, err := get(stranger.URL, c.Loopback()); err == nil || !strings.Contains(err.Error(), "TLS_CERT") {
		t.Fatalf("loopback to another server: %v, want a pin error", err)
	}
}

func TestEnsureDevCerts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	d, err := tlsconfig.EnsureDevCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, svc := read(d.CA), read(d.ServiceCrt)

	// Reused across restarts.
	again, err := tlsconfig.EnsureDevCerts(dir)
	if err != nil || again != d {
		t.Fatalf("second call: %+v, %v", again, err)
	}
	if !bytes.Equal(read(d.CA), ca) || !bytes.Equal(read(d.ServiceCrt), svc) {
		t.Fatal("certificates regenerated although valid")
	}

	// Private keys are private.
	for _, p := range []string{d.ServiceKey, d.ClientKey} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}

	// The service certificate serves and calls (the REST gateway presents
	// it), for the loopback names.
	pair, err := tls.LoadX509KeyPair(d.ServiceCrt, d.ServiceKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool, err := tlsconfig.LoadPool(d.CA)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{eku}}); err != nil {
				t.Errorf("service certificate for %s, usage %v: %v", name, eku, err)
			}
		}
	}
	if !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("IP SANs %v", leaf.IPAddresses)
	}

	// A missing file regenerates the set.
	if err := os.Remove(d.ClientKey); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconfig.EnsureDevCerts(dir); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(read(d.CA), ca) {
		t.Fatal("CA not regenerated after a file was removed")
	}
	if _, err := d.ClientConfig(); err != nil {
		t.Fatal(err)
	}
}

func TestClient(t *testing.T) {
	t.Parallel()
	d := setup(t)
	for _, tt := range []struct {
		name               string
		ca, cert, key      string
		roots, clientCerts bool
		wantErr            string
	}{
		{"system roots, no certificate", "", "", "", false, false, ""},
		{"dev CA", d.CA, "", "", true, false, ""},
		{"mutual TLS", d.CA, d.ClientCrt, d.ClientKey, true, true, ""},
		{"key without certificate", "", "", d.ClientKey, false, false, "client certificate"},
		{"missing CA file", filepath.Join(t.TempDir(), "nope.pem"), "", "", false, false, "CA file"},
	} {
		cfg, err := tlsconfig.Client(tt.ca, tt.cert, tt.key)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want one naming %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || cfg.MinVersion != tls.VersionTLS13 || (cfg.RootCAs != nil) != tt.roots || (len(cfg.Certificates) == 1) != tt.clientCerts {
			t.Errorf("%s: %+v, %v", tt.name, cfg, err)
		}
	}
}
