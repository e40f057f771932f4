package bench

import (
	"math"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	tests := []struct {
		name     string
		in       string
		cpu, rss float64
		write    float64
		wantErr  bool
	}{
		{name: "process collector", in: exposition(12.5, 52428800), cpu: 12.5, rss: 52428800, write: 6.25},
		{name: "untyped", in: "process_cpu_seconds_total 3\nprocess_resident_memory_bytes 1e+06\n", cpu: 3, rss: 1e6, write: nan},
		{name: "missing", in: "# TYPE up gauge\nup 1\n", cpu: nan, rss: nan, write: nan},
		{name: "two series is not one process", in: "process_cpu_seconds_total{pid=\"1\"} 1\nprocess_cpu_seconds_total{pid=\"2\"} 2\n", cpu: nan, rss: nan, write: nan},
		{name: "empty", in: "", cpu: nan, rss: nan, write: nan},
		{name: "writes not a histogram", in: "jobplane_store_write_seconds 2\n", cpu: nan, rss: nan, write: nan},
		{name: "garbage", in: "process_cpu_seconds_total one\n", wantErr: true},
		{name: "type clash", in: "# TYPE process_cpu_seconds_total counter\n# TYPE process_cpu_seconds_total gauge\n", wantErr: true},
	}
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	for _, tt := range tests {
		s, err := parseMetrics(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if err == nil && (!same(s.cpuSeconds, tt.cpu) || !same(s.rssBytes, tt.rss) || !same(s.writeSeconds, tt.write)) {
			t.Errorf("%s: cpu %v rss %v writes %v, want %v %v %v", tt.name, s.cpuSeconds, s.rssBytes, s.writeSeconds, tt.cpu, tt.rss, tt.write)
		}
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add(exposition(1, 2))
	f.Add("process_cpu_seconds_total 3\n")
	f.Add("# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1\nx_sum 1\nx_count 1\n")
	f.Add("a{b=\"c\\\"\"} NaN 123\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := parseMetrics(strings.NewReader(in))
		if err != nil && (s.cpuSeconds != 0 || s.rssBytes != 0) {
			t.Errorf("error %v with figures %+v", err, s)
		}
	})
}

func TestParseTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []string
		want    string
		wantErr bool
	}{
		{name: "none", in: nil, want: "[]"},
		{name: "url named by host", in: []string{"http://127.0.0.1:18180/metrics"}, want: "[{127.0.0.1:18180 http://127.0.0.1:18180/metrics}]"},
		{name: "named, repeated and comma-separated",
			in:   []string{"client-0=http://127.0.0.1:18180/metrics", "server-0=http://127.0.0.1:18190/metrics, server-1=https://h:1/metrics"},
			want: "[{client-0 http://127.0.0.1:18180/metrics} {server-0 http://127.0.0.1:18190/metrics} {server-1 https://h:1/metrics}]"},
		{name: "= in the query is not a name", in: []string{"http://h:1/metrics?a=b"}, want: "[{h:1 http://h:1/metrics?a=b}]"},
		{name: "no scheme", in: []string{"127.0.0.1:18180/metrics"}, wantErr: true},
		{name: "named, no scheme", in: []string{"x=127.0.0.1:18180"}, wantErr: true},
		{name: "no host", in: []string{"http:///metrics"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTargets(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if s := fmtTargets(got); err == nil && s != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, s, tt.want)
		}
	}
}

func fmtTargets(ts []Target) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = "{" + t.Name + " " + t.URL + "}"
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func TestCPUPercent(t *testing.T) {
	t.Parallel()
	if got := percentOfWall(3, 2e9); got != 150 {
		t.Errorf("3 CPU s in 2 s: %v %%, want 150", got)
	}
	if got := percentOfWall(1, 0); got != 0 {
		t.Errorf("no wall time: %v, want 0", got)
	}
}
