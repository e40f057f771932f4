package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jobctl runs the CLI against the stack (JOBPLANE_ADDR, JOBPLANE_TOKEN)
// and returns stdout, stderr and the exit code.
func (s *stack) jobctl(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "jobctl"), args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("JOBPLANE_ADDR=127.0.0.1:%d", s.grpcPort), "JOBPLANE_TOKEN="+token)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// jobctlJSON runs a command with -o json and decodes its output.
func (s *stack) jobctlJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, errOut, code := s.jobctl(t, "", append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("jobctl %v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("jobctl %v: %v: %s", args, err, out)
	}
}

type metricAggregate struct {
	MetricName string  `json:"metric_name"`
	Count      string  `json:"count"`
	Sum        float64 `json:"sum"`
	Mean       float64 `json:"mean"`
	Min        float64 `json:"min"`
	Max        float64 `json:"max"`
	P50        float64 `json:"p50"`
	IsPartial  bool    `json:"is_partial"`
	First      string  `json:"first_timestamp"`
	Last       string  `json:"last_timestamp"`
}

func checkSeedAggregate(t *testing.T, how string, a metricAggregate) {
	t.Helper()
	if a.Count != "3" || math.Abs(a.Sum-225.8) > 1e-9 || math.Abs(a.Mean-75.27) > 0.005 || a.Min != 70.1 || a.Max != 80.2 || a.IsPartial {
		t.Errorf("%s: %+v, want count 3 sum 225.8 mean 75.27 min 70.1 max 80.2", how, a)
	}
	if math.Abs(a.P50-75.5) > 0.76 || a.First == "" || a.Last == "" {
		t.Errorf("%s: p50 %g first %q last %q", how, a.P50, a.First, a.Last)
	}
}

// Every jobctl command against devstack, the seed-000 metrics example
// through REST and jobctl, and a 10,000-operation job watched to the end.
func TestJobctl(t *testing.T) {
	t.Parallel()
	s := startStack(t, 1, 2)

	t.Run("help", func(t *testing.T) {
		for _, c := range []string{"create", "get", "list", "ops", "watch", "cancel", "delete", "aggregate", "stats", "bench"} {
			if _, errOut, code := s.jobctl(t, "", c, "--help"); code != 0 || !strings.Contains(errOut, "Usage: jobctl "+c) {
				t.Errorf("%s --help: exit %d %q", c, code, errOut)
			}
		}
		if _, errOut, code := s.jobctl(t, "", "metrics", "--help"); code != 0 || !strings.Contains(errOut, "record") {
			t.Errorf("metrics --help: exit %d %q", code, errOut)
		}
		if out, _, code := s.jobctl(t, "", "--help"); code != 0 || !strings.Contains(out, "Exit codes") {
			t.Errorf("--help: %d", code)
		}
		if _, _, code := s.jobctl(t, ""); code != 2 {
			t.Errorf("no command: exit %d, want 2", code)
		}
		if _, _, code := s.jobctl(t, "", "frobnicate"); code != 2 {
			t.Errorf("unknown command: exit %d, want 2", code)
		}
	})

	// create from stdin, watch, get, ops, aggregate, list.
	var created struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	out, errOut, code := s.jobctl(t, "69\n1 + 2 + 3 - 7 * 2\n34 * 2 + 1\n", "create", "-", "--request-id", "jobctl-1", "-o", "json")
	if code != 0 {
		t.Fatalf("create from stdin: %d %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" {
		t.Fatalf("create: %v %s", err, out)
	}
	if out, errOut, code = s.jobctl(t, "", "watch", created.ID); code != 0 || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(errOut, "100%") {
		t.Fatalf("watch: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, _, code = s.jobctl(t, "", "get", created.ID); code != 0 || !strings.Contains(out, created.ID) || !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("get: %d %s", code, out)
	}
	if out, _, code = s.jobctl(t, "", "ops", created.ID, "--page-size", "2", "--all"); code != 0 || !strings.Contains(out, "34 * 2 + 1") || !strings.Contains(out, "-8") {
		t.Errorf("ops: %d %s", code, out)
	}
	var agg struct {
		Count     int     `json:"count"`
		Sum, Mean float64 `json:"-"`
		Min       float64 `json:"min"`
		Max       float64 `json:"max"`
		P50       float64 `json:"p50"`
		IsPartial bool    `json:"is_partial"`
	}
	s.jobctlJSON(t, &agg, "aggregate", created.ID)
	if agg.Count != 3 || agg.Min != -8 || agg.Max != 69 || agg.P50 != 69 || agg.IsPartial {
		t.Errorf("aggregate: %+v", agg)
	}
	// The same over REST.
	r := s.do(t, "GET", "/v1/jobs/"+created.ID+":aggregate", "", nil)
	var restAgg struct {
		Sum   float64 `json:"sum"`
		Count int     `json:"count"`
	}
	if r.status == http.StatusOK {
		r.json(t, &restAgg)
	}
	if r.status != http.StatusOK || restAgg.Sum != 130 || restAgg.Count != 3 {
		t.Errorf("REST aggregate: %d %s", r.status, r.body)
	}
	if out, _, code = s.jobctl(t, "", "list", "--filter", "state=SUCCEEDED"); code != 0 || !strings.Contains(out, created.ID) {
		t.Errorf("list: %d %s", code, out)
	}

	// create from a file and with --op; a failing job exits 3 on watch.
	file := filepath.Join(t.TempDir(), "ops.txt")
	if err := os.WriteFile(file, []byte("1 + 2\r\n3 / 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var fromFile struct {
		ID string `json:"id"`
	}
	s.jobctlJSON(t, &fromFile, "create", file)
	if _, errOut, code = s.jobctl(t, "", "watch", fromFile.ID); code != 3 || !strings.Contains(errOut, "FAILED") {
		t.Errorf("watch of a failing job: exit %d %s", code, errOut)
	}
	// Two jobs now: paging.
	if out, _, code = s.jobctl(t, "", "list", "--page-size", "1"); code != 0 || !strings.Contains(out, "next page: --page-token") {
		t.Errorf("list --page-size 1: %d %s", code, out)
	}
	var all struct {
		Jobs []restJob `json:"jobs"`
	}
	s.jobctlJSON(t, &all, "list", "--page-size", "1", "--all")
	if len(all.Jobs) != 2 {
		t.Errorf("list --all: %d jobs", len(all.Jobs))
	}
	if out, errOut, code = s.jobctl(t, "", "create", "--op", "2 * 21", "--op", "1 +", "--watch"); code != 3 {
		t.Errorf("create --op --watch: exit %d %s %s", code, out, errOut)
	}
	// Bad input: 2 with the field violation; unknown job: 4.
	if _, errOut, code = s.jobctl(t, "1 + 2\n\n3\n", "create"); code != 2 || !strings.Contains(errOut, "operations[1].request") {
		t.Errorf("blank line: exit %d %s", code, errOut)
	}
	if _, _, code = s.jobctl(t, "", "get", "0190f8a2-1234-7abc-8def-0123456789ab"); code != 4 {
		t.Errorf("unknown job: exit %d, want 4", code)
	}
	if _, _, code = s.jobctl(t, "", "get", "x", "--token", "wrong"); code != 5 {
		t.Errorf("wrong token: exit %d, want 5", code)
	}

	// cancel and delete.
	var big struct {
		ID string `json:"id"`
	}
	s.jobctlJSON(t, &big, "create", "--op", "1", "--partition-key", "k")
	if out, errOut, code = s.jobctl(t, "", "cancel", big.ID); code != 0 || !strings.Contains(out, big.ID) {
		t.Errorf("cancel: %d %s %s", code, out, errOut)
	}
	if out, _, code = s.jobctl(t, "", "delete", big.ID); code != 0 || !strings.Contains(out, "deleted") {
		t.Errorf("delete: %d %s", code, out)
	}
	if _, _, code = s.jobctl(t, "", "get", big.ID); code != 4 {
		t.Errorf("get after delete: exit %d, want 4", code)
	}

	// stats: 2 server nodes, complete.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st clusterStats
		s.jobctlJSON(t, &st, "stats")
		if st.TotalNodes == 3 && st.RespondingNodes == 3 && serversResponding(st) == 2 && !st.IsPartial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats: %+v", st)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	if out, _, code = s.jobctl(t, "", "stats"); code != 0 || !strings.Contains(out, "server-0") || !strings.Contains(out, "server-1") || !strings.Contains(out, "partial false") {
		t.Errorf("stats table: %d\n%s", code, out)
	}

	// Metrics, seed 000: through REST ...
	for _, v := range []string{"75.5", "80.2", "70.1"} {
		r := s.do(t, "POST", "/v1/metrics", "application/json", []byte(`{"metric_name":"cpu_usage","value":`+v+`}`))
		if r.status != http.StatusOK || !bytes.Contains(bytes.ReplaceAll(r.body, []byte(" "), nil), []byte(`"success":true`)) {
			t.Fatalf("record: %d %s", r.status, r.body)
		}
	}
	var a metricAggregate
	deadline = time.Now().Add(30 * time.Second)
	for {
		r := s.do(t, "GET", "/v1/metrics/cpu_usage:aggregate", "", nil)
		if r.status == http.StatusOK {
			r.json(t, &a)
			if !a.IsPartial && a.Count == "3" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("REST aggregate: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	checkSeedAggregate(t, "REST", a)
	r = s.do(t, "GET", "/v1/metrics/cpu_usage", "", nil)
	var got struct {
		Values []float64 `json:"values"`
	}
	if r.status == http.StatusOK {
		r.json(t, &got)
	}
	if r.status != http.StatusOK || fmt.Sprint(got.Values) != "[75.5 80.2 70.1]" {
		t.Errorf("REST get metric: %d %s", r.status, r.body)
	}
	if r := s.do(t, "POST", "/v1/metrics", "application/json", []byte(`{"metric_name":"bad name","value":1}`)); r.status != http.StatusBadRequest ||
		!strings.Contains(string(r.body), "metric_name") {
		t.Errorf("bad metric name: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/v1/metrics/never_recorded:aggregate", "", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown metric: %d %s", r.status, r.body)
	}
	// ... and through jobctl.
	if out, errOut, code = s.jobctl(t, "", "metrics", "record", "cpu_usage_cli", "75.5", "80.2", "70.1"); code != 0 || !strings.Contains(out, "recorded 3") {
		t.Fatalf("metrics record: %d %s %s", code, out, errOut)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, _, code = s.jobctl(t, "", "metrics", "aggregate", "cpu_usage_cli", "-o", "json")
		if code == 0 {
			a = metricAggregate{}
			if err := json.Unmarshal([]byte(out), &a); err == nil && a.Count == "3" && !a.IsPartial {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics aggregate: %d %s", code, out)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	checkSeedAggregate(t, "jobctl", a)
	if out, _, code = s.jobctl(t, "", "metrics", "aggregate", "cpu_usage_cli"); code != 0 || !strings.Contains(out, "225.8") || !strings.Contains(out, "75.27") {
		t.Errorf("metrics aggregate table: %d %s", code, out)
	}
	if out, _, code = s.jobctl(t, "", "metrics", "get", "cpu_usage_cli"); code != 0 || !strings.Contains(out, "80.2") {
		t.Errorf("metrics get: %d %s", code, out)
	}

	// bench, small, with the client's resource use from its /metrics.
	out, errOut, code = s.jobctl(t, "", "bench", "--jobs", "5", "--ops", "2", "--concurrency", "2", "--metrics", "client-0="+s.baseURL()+"/metrics", "--json")
	var br struct {
		Operations int `json:"operations"`
		JobLatency struct {
			Count int `json:"count"`
		} `json:"job_latency"`
		Services []struct {
			Name    string `json:"name"`
			Samples int    `json:"samples"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &br); code != 0 || err != nil || br.Operations != 10 || br.JobLatency.Count != 5 ||
		len(br.Services) != 1 || br.Services[0].Name != "client-0" || br.Services[0].Samples < 2 || !strings.Contains(errOut, "per job") {
		t.Errorf("bench: %d %v %s %s", code, err, out, errOut)
	}

	// A 10,000-operation job watched to the end: exit 0.
	var lines strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&lines, "%d + 1\n", i)
	}
	start := time.Now()
	out, errOut, code = s.jobctl(t, lines.String(), "create", "--watch", "--timeout", "10m")
	if code != 0 || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(errOut, "10000/10000") {
		t.Fatalf("watch 10,000: exit %d\n%s\n%s", code, out, tail(errOut, 5))
	}
	t.Logf("10,000 operations watched to SUCCEEDED in %s", time.Since(start))
}
