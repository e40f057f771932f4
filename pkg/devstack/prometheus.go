package devstack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jobplane/jobplane/pkg/tlsconfig"
)

// OTLPEndpointURL turns --otlp-endpoint into an OTEL_EXPORTER_OTLP_ENDPOINT
// value: a bare host:port becomes http://host:port (plaintext; the
// exporter would otherwise use TLS), a URL is kept.
func OTLPEndpointURL(endpoint string) string {
	if strings.Contains(endpoint, "://") {
		return endpoint
	}
	return "http://" + endpoint
}

// PrometheusConfig returns a prometheus.yml scraping the stack's services:
// the clients' /metrics on their REST ports (job jobplane-client) and the
// servers' on their admin ports (job jobplane-server), the job names of
// deploy/prometheus and the Grafana dashboard. With TLS, Prometheus
// presents the dev client certificate. The stack must use the default
// ports of the config (the file is rewritten at every start).
func PrometheusConfig(cfg Config, certs tlsconfig.DevCerts) string {
	var b strings.Builder
	b.WriteString("# Written by devstack at every start for its own services; run\n")
	b.WriteString("#   prometheus --config.file=" + filepath.Join(cfg.DataDir, "prometheus.yml") + "\n")
	b.WriteString("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n\nscrape_configs:\n")
	job := func(name string, base, n int) {
		if n == 0 {
			return
		}
		fmt.Fprintf(&b, "  - job_name: %s\n", name)
		if cfg.TLS {
			fmt.Fprintf(&b, "    scheme: https\n    tls_config:\n      ca_file: %q\n      cert_file: %q\n      key_file: %q\n",
				certs.CA, certs.ClientCrt, certs.ClientKey)
		}
		b.WriteString("    static_configs:\n      - targets: [")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "\"127.0.0.1:%d\"", base+i)
		}
		b.WriteString("]\n")
	}
	job("jobplane-client", cfg.HTTPPort, cfg.Clients)
	job("jobplane-server", cfg.AdminPort, cfg.Servers)
	return b.String()
}

// writePrometheusConfig writes DataDir/prometheus.yml and returns its path.
func writePrometheusConfig(cfg Config, certs tlsconfig.DevCerts) (string, error) {
	path, err := filepath.Abs(filepath.Join(cfg.DataDir, "prometheus.yml"))
	if err != nil {
		return "", err
	}
	cfg.DataDir = filepath.Dir(path)
	if err := os.WriteFile(path, []byte(PrometheusConfig(cfg, certs)), 0o600); err != nil {
		return "", fmt.Errorf("prometheus config: %w", err)
	}
	return path, nil
}
