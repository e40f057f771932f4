package telemetry

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	_ queue.LagObserver   = (*Metrics)(nil)
	_ store.WriteObserver = (*Metrics)(nil)
)

// TestMetricsLint runs the checks of `promtool check metrics` (promlint)
// over every metric, each with a sample.
func TestMetricsLint(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	m.ConsumerReceived.WithLabelValues("t").Inc()
	m.ConsumerErrors.WithLabelValues("t").Inc()
	m.ProducerSent.WithLabelValues("t").Inc()
	m.ProducerErrors.WithLabelValues("t").Inc()
	m.JobsFinished.WithLabelValues("succeeded").Inc()
	m.OperationsFinished.WithLabelValues("failed").Inc()
	m.ProcessingSeconds.WithLabelValues("expr", "succeeded").Observe(0.001)
	m.ResultLatencySeconds.WithLabelValues("expr", "succeeded").Observe(0.1)
	m.DeadLetters.WithLabelValues("undecodable").Inc()
	m.RelayRepublished.WithLabelValues("unpublished").Inc()
	m.ObserveLag("t", 3, 5)
	m.ObserveStoreWrite("insert", "jobs", time.Millisecond, 2*time.Millisecond)
	m.BatchItems.WithLabelValues("create_jobs").Observe(8)
	problems, err := testutil.GatherAndLint(m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestObserveStoreWrite(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	m.ObserveStoreWrite("insert", "jobs", time.Millisecond, 3*time.Millisecond)
	m.ObserveStoreWrite("insert", "jobs", 0, 5*time.Millisecond)
	m.ObserveStoreWrite("delete", "outbox", 2*time.Millisecond, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`jobplane_store_write_seconds_sum{collection="jobs",op="insert"} 0.008`,
		`jobplane_store_write_seconds_count{collection="jobs",op="insert"} 2`,
		`jobplane_store_write_wait_seconds_sum{collection="jobs",op="insert"} 0.001`,
		`jobplane_store_write_seconds_sum{collection="outbox",op="delete"} 0.001`,
		`jobplane_store_write_wait_seconds_sum{collection="outbox",op="delete"} 0.002`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in:\n%s", want, grep(body, "store_write"))
		}
	}
}

func TestConsumerLag(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	m.ObserveLag("req", 7, 12)
	m.ObserveLag("req", 8, -1) // never negative
	if got := testutil.ToFloat64(m.ConsumerLag.WithLabelValues("req", "7")); got != 12 {
		t.Fatalf("lag %v", got)
	}
	if got := testutil.ToFloat64(m.ConsumerLag.WithLabelValues("req", "8")); got != 0 {
		t.Fatalf("lag %v", got)
	}
	m.ForgetLag("req", 7)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if strings.Contains(body, `partition="7"`) || !strings.Contains(body, `jobplane_consumer_lag_messages{partition="8",topic="req"} 0`) {
		t.Fatalf("after ForgetLag:\n%s", grep(body, "lag"))
	}
	if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_cpu_seconds_total") {
		t.Fatal("runtime and process collectors missing")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
