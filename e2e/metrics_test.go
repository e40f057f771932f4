package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/queue"
)

// scrape returns the /metrics text of url.
func scrape(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url) // #nosec G107 -- a loopback test URL
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

// sample sums the values of the series of name whose labels contain every
// one of labels (`topic="x"`), in the Prometheus text format.
func sample(body []byte, name string, labels ...string) float64 {
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// serverSample sums sample(name, labels) over the /metrics of every server.
func (s *stack) serverSample(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	var sum float64
	for i := range s.servers {
		sum += sample(scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", s.adminPort+i)), name, labels...)
	}
	return sum
}

// clientSample is sample(name, labels) of client 0's /metrics.
func (s *stack) clientSample(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return sample(scrape(t, s.baseURL()+"/metrics"), name, labels...)
}

// topic is the label selecting a topic's series.
func topic(name string) string { return fmt.Sprintf("topic=%q", name) }

// promtoolCheck pipes a /metrics body through `promtool check metrics`
// (Debian package prometheus, installed by .ci/run). Missing promtool is a
// failure, not a skip.
func promtoolCheck(t *testing.T, what string, body []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (install the Debian package prometheus; .ci/run does): %v", err)
	}
	cmd := exec.Command(bin, "check", "metrics") // #nosec G204 -- promtool from PATH
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics on %s: %v\n%s", what, err, out)
	}
}

// TestMetricsEndpoints runs N operations on a devstack with 1 client and 2
// servers, then checks the services' /metrics: promtool is clean on every
// endpoint, the servers together received at least N requests, the client
// counted N created and finished operations and one finished job, the
// latency histograms carry the operation type, consumer lag is exported;
// and a real Prometheus, run with the prometheus.yml devstack writes,
// scrapes every target successfully.
func TestMetricsEndpoints(t *testing.T) {
	t.Parallel()
	s := startStack(t, 1, 2)
	clientURL := s.baseURL() + "/metrics"
	serverURLs := []string{fmt.Sprintf("http://127.0.0.1:%d/metrics", s.adminPort), fmt.Sprintf("http://127.0.0.1:%d/metrics", s.adminPort+1)}
	received := func() float64 {
		return s.serverSample(t, "consumer_messages_received_total", topic(queue.RequestTopic))
	}
	before := received()

	const n = 25
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "%d + %d\n", i, i)
	}
	job := s.createText(t, body.String())
	if j := s.awaitJob(t, job.ID, time.Minute); j.State != "JOB_STATE_SUCCEEDED" {
		t.Fatalf("job %+v", j)
	}
	if got := received() - before; got < n {
		t.Errorf("servers received %v requests, want >= %d", got, n)
	}

	client := scrape(t, clientURL)
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"jobplane_operations_created_total", nil, n},
		{"jobplane_jobs_created_total", nil, 1},
		{"jobplane_operations_finished_total", []string{`state="succeeded"`}, n},
		{"jobplane_jobs_finished_total", []string{`state="succeeded"`}, 1},
		{"jobplane_operation_latency_seconds_count", []string{`type="expr"`, `outcome="succeeded"`}, n},
		{"producer_messages_sent_total", []string{`topic="application.operation.request"`}, n},
		{"consumer_messages_received_total", []string{`topic="application.operation.response"`}, n},
	} {
		if got := sample(client, c.name, c.labels...); got < c.min {
			t.Errorf("client %s%v = %v, want >= %v", c.name, c.labels, got, c.min)
		}
	}
	if !strings.Contains(string(client), `jobplane_consumer_lag_messages{partition="`) {
		t.Errorf("client exports no consumer lag")
	}
	if processed := s.serverSample(t, "jobplane_operation_processing_seconds_count", `type="expr"`, `outcome="succeeded"`); processed < n {
		t.Errorf("servers processed %v expr operations, want >= %d", processed, n)
	}

	promtoolCheck(t, clientURL, client)
	for _, u := range serverURLs {
		promtoolCheck(t, u, scrape(t, u))
	}

	t.Run("prometheus", func(t *testing.T) { runPrometheus(t, s) })
}

// runPrometheus runs the Debian package's prometheus with devstack's
// prometheus.yml and waits until every target is up.
func runPrometheus(t *testing.T, s *stack) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (install the Debian package prometheus; .ci/run does): %v", err)
	}
	cfgFile := filepath.Join(s.dataDir, "prometheus.yml")
	if _, err := os.Stat(cfgFile); err != nil {
		t.Fatalf("devstack wrote no prometheus.yml: %v", err)
	}
	if !strings.Contains(s.out.String(), "prometheus --config.file=") {
		t.Errorf("devstack does not print how to run Prometheus")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freeRange(t, 1))
	var out syncBuffer
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--web.listen-address="+addr, // #nosec G204 -- prometheus from PATH
		"--storage.tsdb.path="+t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})

	type target struct {
		Labels    map[string]string `json:"labels"`
		Health    string            `json:"health"`
		LastError string            `json:"lastError"`
		ScrapeURL string            `json:"scrapeUrl"`
	}
	want := s.clients + s.servers
	deadline := time.Now().Add(60 * time.Second)
	var last []target
	for {
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/api/v1/targets?state=active") // #nosec G107 -- loopback
		if err == nil {
			var r struct {
				Data struct {
					ActiveTargets []target `json:"activeTargets"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			last = r.Data.ActiveTargets
			up := 0
			for _, tg := range last {
				if tg.Health == "up" {
					up++
				}
			}
			if err == nil && len(last) == want && up == want {
				jobs := map[string]int{}
				for _, tg := range last {
					jobs[tg.Labels["job"]]++
				}
				if jobs["jobplane-client"] != s.clients || jobs["jobplane-server"] != s.servers {
					t.Errorf("targets by job %v", jobs)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus targets not all up after 60s (want %d): %+v\n%s", want, last, tail(out.String(), 40))
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not a wait for an event
	}
}
