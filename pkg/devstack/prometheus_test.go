package devstack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobplane/jobplane/pkg/tlsconfig"
)

func TestOTLPEndpointURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"localhost:4317":         "http://localhost:4317",
		"http://127.0.0.1:4317":  "http://127.0.0.1:4317",
		"https://collector:4317": "https://collector:4317",
	} {
		if got := OTLPEndpointURL(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestPrometheusConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Clients: 2, Servers: 3, HTTPPort: 8080, AdminPort: 8090}
	path, err := writePrometheusConfig(cfg, tlsconfig.DevCerts{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the test's temp dir
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"job_name: jobplane-client", `targets: ["127.0.0.1:8080", "127.0.0.1:8081"]`,
		"job_name: jobplane-server", `targets: ["127.0.0.1:8090", "127.0.0.1:8091", "127.0.0.1:8092"]`,
		"prometheus --config.file=" + filepath.Join(dir, "prometheus.yml"),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "https") {
		t.Errorf("https without TLS:\n%s", got)
	}
	certs := tlsconfig.DevCerts{CA: "/d/ca.crt", ClientCrt: "/d/client.crt", ClientKey: "/d/client.key"}
	tlsCfg := PrometheusConfig(Config{DataDir: dir, Clients: 1, TLS: true, HTTPPort: 1}, certs)
	if !strings.Contains(tlsCfg, "scheme: https") || !strings.Contains(tlsCfg, `cert_file: "/d/client.crt"`) || strings.Contains(tlsCfg, "jobplane-server") {
		t.Errorf("TLS config:\n%s", tlsCfg)
	}
	// promtool, when installed (CI installs it), validates the file.
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil { // #nosec G204 -- promtool from PATH
			t.Errorf("promtool check config: %v\n%s", err, out)
		}
	}
}
