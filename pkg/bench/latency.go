package bench

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: microseconds, 1 µs to 10 minutes, 3 significant digits.
const (
	histMin    = 1
	histMax    = int64(10 * time.Minute / time.Microsecond)
	histDigits = 3
)

// recorder collects latencies in an HDR histogram. Not safe for concurrent
// use.
type recorder struct {
	h       *hdrhistogram.Histogram
	clamped int64
}

func newRecorder() *recorder {
	return &recorder{h: hdrhistogram.New(histMin, histMax, histDigits)}
}

// record adds d, clamped to the histogram's range (a negative latency can
// only come from clocks that disagree; it counts as 0).
func (r *recorder) record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 || us > histMax {
		r.clamped++
		us = min(max(us, 0), histMax)
	}
	_ = r.h.RecordValue(us) // in range by construction
}

// Latency summarises one histogram.
type Latency struct {
	// Basis says what was measured, e.g. "per job".
	Basis string `json:"basis"`
	// Count of recorded latencies.
	Count int64   `json:"count"`
	P50ms float64 `json:"p50_ms"`
	P95ms float64 `json:"p95_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// MeanMs is the arithmetic mean.
	MeanMs float64 `json:"mean_ms"`
	// Clamped counts values outside 0..10 min recorded at the nearest bound.
	Clamped int64 `json:"clamped,omitempty"`
}

// summary reads the percentiles off the histogram, in milliseconds.
func (r *recorder) summary(basis string) *Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	h := r.h
	return &Latency{
		Basis: basis, Count: h.TotalCount(),
		P50ms: ms(h.ValueAtQuantile(50)), P95ms: ms(h.ValueAtQuantile(95)), P99ms: ms(h.ValueAtQuantile(99)),
		MaxMs: ms(h.Max()), MeanMs: h.Mean() / 1000, Clamped: r.clamped,
	}
}
