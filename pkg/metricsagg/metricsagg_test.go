package metricsagg_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/metricsagg"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/segmentio/kafka-go"
)

func near(a, b, eps float64) bool { return math.Abs(a-b) <= eps }

func points(start int64, vals ...float64) []metricsagg.Point {
	t0 := time.Date(2024, 11, 25, 20, 59, 23, 0, time.UTC)
	out := make([]metricsagg.Point, len(vals))
	for i, v := range vals {
		out[i] = metricsagg.Point{Value: v, Time: t0.Add(time.Duration(i) * time.Second), Offset: start + int64(i)}
	}
	return out
}

// The seed's example: 75.5, 80.2, 70.1.
func TestSeedExample(t *testing.T) {
	m := &store.Metric{Name: "cpu_usage", Offset: -1}
	n, err := metricsagg.Merge(m, 3, points(0, 75.5, 80.2, 70.1))
	if err != nil || n != 3 {
		t.Fatalf("merge: %d %v", n, err)
	}
	s, err := metricsagg.Summarize(m)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != 3 || !near(s.Sum, 225.8, 1e-9) || !near(s.Mean, 75.2667, 1e-4) || s.Min != 70.1 || s.Max != 80.2 {
		t.Errorf("summary %+v", s)
	}
	if !near(s.P50, 75.5, 75.5*metricsagg.RelativeAccuracy) {
		t.Errorf("p50 %g", s.P50)
	}
	if !s.FirstTime.Before(s.LastTime) {
		t.Errorf("times %v %v", s.FirstTime, s.LastTime)
	}
}

// Merging in batches equals merging at once; a redelivered batch counts
// once; percentiles stay within the sketch's relative accuracy.
func TestMergeBatchesAndReplay(t *testing.T) {
	vals := make([]float64, 10000)
	for i := range vals {
		vals[i] = float64(i + 1)
	}
	m := &store.Metric{Name: "latency", Offset: -1}
	for start := 0; start < len(vals); start += 700 {
		end := min(start+700, len(vals))
		if _, err := metricsagg.Merge(m, 0, points(int64(start), vals[start:end]...)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := metricsagg.Merge(m, 0, points(7000, vals[7000:7700]...)) // replay
	if err != nil || n != 0 {
		t.Fatalf("replay merged %d, %v", n, err)
	}
	s, err := metricsagg.Summarize(m)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != 10000 || s.Sum != 50005000 || s.Min != 1 || s.Max != 10000 {
		t.Errorf("summary %+v", s)
	}
	for _, q := range []struct{ got, want float64 }{{s.P50, 5000}, {s.P90, 9000}, {s.P99, 9900}} {
		if !near(q.got, q.want, q.want*0.02) {
			t.Errorf("quantile %g, want about %g", q.got, q.want)
		}
	}
	if len(m.Recent) != metricsagg.RecentValues || m.Recent[len(m.Recent)-1].Value != 10000 {
		t.Errorf("recent: %d values, last %v", len(m.Recent), m.Recent[len(m.Recent)-1])
	}
}

func TestNegativeAndZero(t *testing.T) {
	m := &store.Metric{Name: "temp", Offset: -1}
	if _, err := metricsagg.Merge(m, 0, points(0, -5, 0, 5)); err != nil {
		t.Fatal(err)
	}
	s, err := metricsagg.Summarize(m)
	if err != nil || s.Min != -5 || s.Max != 5 || s.Sum != 0 || !near(s.P50, 0, 0.05) {
		t.Errorf("summary %+v %v", s, err)
	}
	if _, err := metricsagg.Summarize(&store.Metric{}); !errors.Is(err, metricsagg.ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"cpu_usage": true, "http.requests-total": true, "_x": true,
		"": false, "1abc": false, "a b": false, "a:b": false, "a/b": false,
		string(make([]byte, 129)): false,
	} {
		if got := metricsagg.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v", name, got)
		}
	}
	if metricsagg.ValidValue(math.NaN()) || metricsagg.ValidValue(math.Inf(1)) || !metricsagg.ValidValue(-1.5) {
		t.Error("ValidValue")
	}
}

func TestCodec(t *testing.T) {
	now := time.Now().UTC()
	msg, err := metricsagg.Encode(queue.MetricTopic, metricsagg.NewSample("cpu_usage", 75.5, now))
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Key) != "cpu_usage" {
		t.Errorf("key %q", msg.Key)
	}
	s, err := metricsagg.Decode(&msg)
	if err != nil || s.GetValue() != 75.5 || !s.GetTime().AsTime().Equal(now) {
		t.Fatalf("decode: %v %v", s, err)
	}
	bad := []kafka.Message{
		{Value: msg.Value},
		{Value: []byte{0xff}, Headers: msg.Headers},
		{Value: nil, Headers: msg.Headers},
	}
	for i := range bad {
		if _, err := metricsagg.Decode(&bad[i]); !errors.Is(err, queue.ErrUndecodable) {
			t.Errorf("bad %d: %v", i, err)
		}
	}
}
