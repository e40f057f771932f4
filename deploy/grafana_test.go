package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobplane/jobplane/pkg/telemetry"
)

// serviceMetrics returns the names of the series the services export
// (histograms with their _bucket, _sum and _count series).
func serviceMetrics(t *testing.T) map[string]bool {
	t.Helper()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	out := map[string]bool{}
	m := reflect.ValueOf(telemetry.NewMetrics()).Elem()
	for i := range m.NumField() {
		c, ok := m.Field(i).Interface().(prometheus.Collector)
		if !ok || m.Type().Field(i).Name == "Registry" {
			continue
		}
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		_, histogram := c.(*prometheus.HistogramVec)
		for d := range ch {
			name := fqName.FindStringSubmatch(d.String())[1]
			out[name] = true
			if histogram {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					out[name+s] = true
				}
			}
		}
	}
	return out
}

// TestGrafanaDashboard checks that the provisioned dashboard is valid JSON,
// that every query names a metric the services export (or a standard Go,
// process or scrape series), and that compose mounts what the provisioning
// files expect.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	known := serviceMetrics(t)
	if !known["jobplane_operations_created_total"] {
		t.Fatalf("telemetry metrics not found: %v", known)
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy/grafana/dashboards/jobplane.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	ident := regexp.MustCompile(`[a-z_][a-z0-9_]*(_total|_bucket|_seconds|_bytes|_count|_sum)\b|\bgo_[a-z_]+|\bup\b`)
	queries := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			for _, name := range ident.FindAllString(tg.Expr, -1) {
				if !known[name] && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && name != "up" {
					t.Errorf("panel %q: %s is not a metric of the services (pkg/telemetry)", p.Title, name)
				}
			}
		}
	}
	if dash.UID == "" || queries < 10 {
		t.Errorf("dashboard uid %q with %d queries", dash.UID, queries)
	}

	var prov struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	readYAML(t, filepath.Join(repoRoot, "deploy/grafana/provisioning/dashboards/jobplane.yml"), &prov)
	g, err := loadCompose(t, "grafana").GetService("grafana")
	if err != nil {
		t.Fatal(err)
	}
	checkMounted(t, g, "deploy/grafana/dashboards")
	checkMounted(t, g, "deploy/grafana/provisioning")
	for _, v := range g.Volumes {
		if strings.HasSuffix(v.Source, "deploy/grafana/dashboards") && (len(prov.Providers) != 1 || prov.Providers[0].Options.Path != v.Target) {
			t.Errorf("grafana mounts the dashboards at %s; the provider reads %+v", v.Target, prov.Providers)
		}
	}
}
