package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Target is a Prometheus /metrics endpoint of one service process.
type Target struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// ParseTargets reads --metrics values: each is one or more comma-separated
// `url` or `name=url`; a target without a name is named by its host:port.
func ParseTargets(values []string) ([]Target, error) {
	var ts []Target
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			var t Target
			if name, u, ok := strings.Cut(item, "="); ok && !strings.Contains(name, "://") {
				t.Name, t.URL = strings.TrimSpace(name), strings.TrimSpace(u)
			} else {
				t.URL = item
			}
			u, err := url.Parse(t.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("metrics target %q: want http(s)://host:port/metrics or name=URL", item)
			}
			if t.Name == "" {
				t.Name = u.Host
			}
			ts = append(ts, t)
		}
	}
	return ts, nil
}

// procSample is what a scrape yields: the process collector's figures.
// NaN marks a metric the exposition did not have.
type procSample struct {
	cpuSeconds float64 // process_cpu_seconds_total
	rssBytes   float64 // process_resident_memory_bytes
	// writeSeconds is the time the process's MongoDB writes took (the sum
	// of jobplane_store_write_seconds over its series), NaN where the
	// service has none (a server, another system).
	writeSeconds float64
}

// storeWriteMetric times a jobplane service's MongoDB writes, which take
// turns: its growth over a run is the time the service's writer was busy.
const storeWriteMetric = "jobplane_store_write_seconds"

// parseMetrics decodes a Prometheus text exposition and returns the process
// figures. An exposition without them is not an error (NaN).
func parseMetrics(r io.Reader) (procSample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return procSample{}, fmt.Errorf("parse metrics: %w", err)
	}
	return procSample{
		cpuSeconds:   single(fams["process_cpu_seconds_total"]),
		rssBytes:     single(fams["process_resident_memory_bytes"]),
		writeSeconds: histogramSum(fams[storeWriteMetric]),
	}, nil
}

// histogramSum adds up the sums of a histogram family's series; NaN if the
// family is missing, empty or not a histogram.
func histogramSum(f *dto.MetricFamily) float64 {
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		sum += m.GetHistogram().GetSampleSum()
	}
	return sum
}

// single is the value of a family's only series (counter, gauge or
// untyped), NaN if there is not exactly one.
func single(f *dto.MetricFamily) float64 {
	if f == nil || len(f.GetMetric()) != 1 {
		return math.NaN()
	}
	m := f.GetMetric()[0]
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// scrape fetches and parses one target, asking for the text format.
func scrape(ctx context.Context, hc *http.Client, t Target) (procSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return procSample{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return procSample{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return procSample{}, fmt.Errorf("GET %s: %s", t.URL, resp.Status)
	}
	return parseMetrics(io.LimitReader(resp.Body, 64<<20))
}

// ServiceUsage is the resource use of one service process during a run.
type ServiceUsage struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// CPUSeconds is the growth of process_cpu_seconds_total over the run.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPercent is CPUSeconds over the wall time between the scrapes
	// (100 = one core).
	CPUPercent float64 `json:"cpu_percent"`
	// PeakRSSMB is the highest process_resident_memory_bytes seen, in MB
	// (10^6 bytes), sampled every SampleEvery.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// WriterBusyPercent is the share of the run's wall time in which the
	// service was writing to MongoDB (jobplane_store_write_seconds; its
	// writes take turns, so 100 means the writer was the bound); absent
	// for a service without that metric.
	WriterBusyPercent *float64 `json:"writer_busy_percent,omitempty"`
	// Samples is the number of successful scrapes, before and after
	// included.
	Samples int `json:"samples"`
	// Error is set when the final figures could not be taken.
	Error string `json:"error,omitempty"`
}

// monitor scrapes its targets before a run, every interval during it (for
// the peak memory) and after it.
type monitor struct {
	hc      *http.Client
	targets []Target
	start   time.Time
	before  []procSample

	mu      sync.Mutex
	peak    []float64
	samples []int

	stop chan struct{}
	done chan struct{}
}

// startMonitor takes the "before" scrape of every target (an unreachable
// target is an error: better to know before the run) and starts sampling.
func startMonitor(ctx context.Context, hc *http.Client, targets []Target, every time.Duration) (*monitor, error) {
	m := &monitor{
		hc: hc, targets: targets, before: make([]procSample, len(targets)),
		peak: make([]float64, len(targets)), samples: make([]int, len(targets)),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	for i, t := range targets {
		s, err := scrape(ctx, hc, t)
		if err != nil {
			return nil, fmt.Errorf("metrics %s: %w", t.Name, err)
		}
		if math.IsNaN(s.cpuSeconds) || math.IsNaN(s.rssBytes) {
			return nil, fmt.Errorf("metrics %s: %s has no process_cpu_seconds_total or process_resident_memory_bytes", t.Name, t.URL)
		}
		m.before[i] = s
		m.note(i, s)
	}
	m.start = time.Now()
	go m.sample(ctx, every)
	return m, nil
}

func (m *monitor) note(i int, s procSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples[i]++
	if !math.IsNaN(s.rssBytes) && s.rssBytes > m.peak[i] {
		m.peak[i] = s.rssBytes
	}
}

func (m *monitor) sample(ctx context.Context, every time.Duration) {
	defer close(m.done)
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		for i, t := range m.targets {
			if s, err := scrape(ctx, m.hc, t); err == nil {
				m.note(i, s)
			}
		}
	}
}

// finish stops sampling, takes the "after" scrape and returns the usage of
// each target.
func (m *monitor) finish(ctx context.Context) []ServiceUsage {
	close(m.stop)
	<-m.done
	out := make([]ServiceUsage, len(m.targets))
	for i, t := range m.targets {
		u := ServiceUsage{Name: t.Name, URL: t.URL}
		s, err := scrape(ctx, m.hc, t)
		wall := time.Since(m.start)
		if err == nil {
			m.note(i, s)
		}
		m.mu.Lock()
		u.PeakRSSMB, u.Samples = m.peak[i]/1e6, m.samples[i]
		m.mu.Unlock()
		switch {
		case err != nil:
			u.Error = err.Error()
		case s.cpuSeconds < m.before[i].cpuSeconds:
			u.Error = "process_cpu_seconds_total went down: the process restarted during the run"
		default:
			u.CPUSeconds = s.cpuSeconds - m.before[i].cpuSeconds
			u.CPUPercent = percentOfWall(u.CPUSeconds, wall)
			if w := s.writeSeconds - m.before[i].writeSeconds; w >= 0 { // false for NaN
				busy := percentOfWall(w, wall)
				u.WriterBusyPercent = &busy
			}
		}
		out[i] = u
	}
	return out
}

// percentOfWall is seconds (of CPU, of writing) as a percentage of wall
// time (100 = all of it; for CPU, one core).
func percentOfWall(seconds float64, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * seconds / wall.Seconds()
}
