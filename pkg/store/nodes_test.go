package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
)

func TestNodesMembership(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	start := time.Now().UTC().Truncate(time.Millisecond)
	a := store.Node{ID: "server-0", Role: "server", Address: "127.0.0.1:1", Version: "v", Instance: "i1", StartTime: start}
	b := store.Node{ID: "client-0", Role: "client", Address: "127.0.0.1:2", Version: "v", Instance: "i2", StartTime: start}
	for _, n := range []store.Node{a, b, a} { // a twice: a heartbeat replaces
		if err := s.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	nodes, err := s.ListNodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "client-0" || nodes[1].Address != "127.0.0.1:1" {
		t.Fatalf("nodes %+v %v", nodes, err)
	}
	if nodes[1].Expired(time.Now(), time.Minute) || !nodes[1].Expired(time.Now().Add(2*time.Minute), time.Minute) {
		t.Errorf("expiry of %+v", nodes[1])
	}
	// A restarted process with the same id took over: the old one's
	// deregistration leaves the new document alone.
	a2 := a
	a2.Instance = "i3"
	if err := s.Heartbeat(ctx, a2); err != nil {
		t.Fatal(err)
	}
	if err := s.Deregister(ctx, "server-0", "i1"); err != nil {
		t.Fatal(err)
	}
	if nodes, _ = s.ListNodes(ctx); len(nodes) != 2 {
		t.Fatalf("after stale deregister: %+v", nodes)
	}
	if err := s.Deregister(ctx, "server-0", "i3"); err != nil {
		t.Fatal(err)
	}
	if nodes, _ = s.ListNodes(ctx); len(nodes) != 1 || nodes[0].ID != "client-0" {
		t.Fatalf("after deregister: %+v", nodes)
	}
}

func TestMetricDocuments(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	if _, err := s.GetMetric(ctx, "cpu"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing metric: %v", err)
	}
	m := &store.Metric{Name: "cpu", Count: 3, Sum: 225.8, Min: 70.1, Max: 80.2, Sketch: []byte{1, 2}, Partition: 7, Offset: 41,
		Recent: []store.MetricPoint{{Value: 75.5, Time: time.Now().UTC().Truncate(time.Millisecond)}}}
	if err := s.PutMetrics(ctx, []*store.Metric{m}); err != nil {
		t.Fatal(err)
	}
	m.Count, m.Offset = 4, 42
	if err := s.PutMetrics(ctx, []*store.Metric{m}); err != nil {
		t.Fatal(err)
	}
	if both, err := s.GetMetrics(ctx, []string{"mem", "cpu"}); err != nil || len(both) != 2 || both[0] != nil || both[1] == nil || both[1].Count != 4 {
		t.Fatalf("GetMetrics: %+v %v", both, err)
	}
	got, err := s.GetMetric(ctx, "cpu")
	if err != nil || got.Count != 4 || got.Offset != 42 || got.Sum != 225.8 || len(got.Recent) != 1 || string(got.Sketch) != "\x01\x02" {
		t.Fatalf("metric %+v %v", got, err)
	}
	if wm, err := s.MetricWatermark(ctx, "t", 7); err != nil || wm != -1 {
		t.Fatalf("no watermark: %d %v", wm, err)
	}
	for _, off := range []int64{5, 9} {
		if err := s.SetMetricWatermark(ctx, "t", 7, off); err != nil {
			t.Fatal(err)
		}
	}
	if wm, err := s.MetricWatermark(ctx, "t", 7); err != nil || wm != 9 {
		t.Fatalf("watermark: %d %v", wm, err)
	}
}
