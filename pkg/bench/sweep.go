package bench

import (
	"cmp"
	"context"
	"errors"
	"math"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
)

// SweepConfig is W4: W1-shaped load at increasing paced rates, to find the
// highest rate whose p99 job latency stays under a target.
type SweepConfig struct {
	// Base is the shape of every step (OpsPerJob, Concurrency, Metrics, …);
	// Jobs and Rate are set per step.
	Base Config
	// PeakOpsPerSecond is the full-speed throughput the steps are fractions
	// of; 0 measures it first with PeakJobs jobs (default 500) unpaced.
	PeakOpsPerSecond float64
	PeakJobs         int
	// Fractions of the peak to offer, in order (default DefaultFractions).
	Fractions []float64
	// StepDuration is how long each step submits (default 10s). A step
	// submits at least MinStepJobs jobs (default 50) for its p99, as long
	// as that takes at most twice StepDuration (and at least 2 jobs).
	StepDuration time.Duration
	MinStepJobs  int
	// TargetP99 is the latency bound (default 50ms); the sweep stops after
	// StopAfter consecutive steps over it (default 2).
	TargetP99 time.Duration
	StopAfter int
	// Progress, if set, is called after each step.
	Progress func(i, n int, s Step)
}

// DefaultFractions are the steps of W4, in fractions of the peak: finer at
// the low end, where a 50 ms p99 is to be found on the embedded default
// (job latency is seconds at full speed).
var DefaultFractions = []float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0}

// stepJobs is the job count of a step at rate jobs/s: d's worth, raised to
// minJobs if that takes at most 2d, and at least 2 (for a rate).
func stepJobs(rate float64, d time.Duration, minJobs int) int {
	n := int(math.Round(rate * d.Seconds()))
	if n < minJobs {
		n = min(minJobs, int(math.Round(2*rate*d.Seconds())))
	}
	return max(n, 2)
}

// Step is one paced run of a sweep.
type Step struct {
	Fraction           float64 `json:"fraction"`
	TargetOpsPerSecond float64 `json:"target_operations_per_second"`
	// OfferedOpsPerSecond is the achieved submission rate, in operations.
	OfferedOpsPerSecond float64 `json:"offered_operations_per_second"`
	P99ms               float64 `json:"p99_ms"`
	Passed              bool    `json:"passed"`
	Result              *Result `json:"result"`
}

// SweepResult is the outcome of W4.
type SweepResult struct {
	Workload         string  `json:"workload"`
	OpsPerJob        int     `json:"operations_per_job"`
	Concurrency      int     `json:"concurrency"`
	TargetP99ms      float64 `json:"target_p99_ms"`
	PeakOpsPerSecond float64 `json:"peak_operations_per_second"`
	// Peak is the unpaced run that measured the peak, if one did.
	Peak  *Result `json:"peak,omitempty"`
	Steps []Step  `json:"steps"`
	// MaxOpsPerSecond is the highest offered rate of a step whose p99 was
	// under the target (0: none was); CrossedOpsPerSecond the lowest offered
	// rate above it whose p99 was not (0: none).
	MaxOpsPerSecond     float64 `json:"max_operations_per_second_under_target"`
	CrossedOpsPerSecond float64 `json:"p99_crosses_target_at_operations_per_second"`
	TotalSeconds        float64 `json:"total_seconds"`
}

// Sweep runs W4.
func Sweep(ctx context.Context, c jobsv1.JobServiceClient, sc SweepConfig) (*SweepResult, error) {
	sc.PeakJobs = cmp.Or(sc.PeakJobs, 500)
	sc.StepDuration = cmp.Or(sc.StepDuration, 10*time.Second)
	sc.MinStepJobs = cmp.Or(sc.MinStepJobs, 50)
	sc.TargetP99 = cmp.Or(sc.TargetP99, 50*time.Millisecond)
	sc.StopAfter = cmp.Or(sc.StopAfter, 2)
	if len(sc.Fractions) == 0 {
		sc.Fractions = DefaultFractions
	}
	if sc.PeakOpsPerSecond < 0 {
		return nil, errors.New("peak must not be negative")
	}
	base := sc.Base
	base.Rate = 0
	if base.OpLatency == OpLatencyAuto {
		base.OpLatency = OpLatencyOff // reading back every step's operations would double the sweep
	}
	start := time.Now()
	out := &SweepResult{
		Workload: base.Workload, OpsPerJob: base.OpsPerJob, Concurrency: base.Concurrency,
		TargetP99ms: float64(sc.TargetP99.Microseconds()) / 1000, PeakOpsPerSecond: sc.PeakOpsPerSecond,
	}
	if out.PeakOpsPerSecond == 0 {
		cfg := base
		cfg.Jobs = sc.PeakJobs
		r, err := Run(ctx, c, cfg)
		if err != nil {
			return nil, err
		}
		out.Peak, out.PeakOpsPerSecond = r, r.OpsPerSecond
	}
	over := 0
	for i, f := range sc.Fractions {
		cfg := base
		cfg.Rate = f * out.PeakOpsPerSecond / float64(base.OpsPerJob)
		cfg.Jobs = stepJobs(cfg.Rate, sc.StepDuration, sc.MinStepJobs)
		r, err := Run(ctx, c, cfg)
		if err != nil {
			return nil, err
		}
		s := Step{
			Fraction: f, TargetOpsPerSecond: f * out.PeakOpsPerSecond,
			OfferedOpsPerSecond: r.SubmitJobsPerSecond * float64(base.OpsPerJob),
			P99ms:               r.JobLatency.P99ms, Result: r,
		}
		s.Passed = s.P99ms < out.TargetP99ms
		out.Steps = append(out.Steps, s)
		if sc.Progress != nil {
			sc.Progress(i, len(sc.Fractions), s)
		}
		if over = over + 1; s.Passed {
			over = 0
		}
		if over >= sc.StopAfter {
			break
		}
	}
	best, crossed := pick(out.Steps)
	if best >= 0 {
		out.MaxOpsPerSecond = out.Steps[best].OfferedOpsPerSecond
	}
	if crossed >= 0 {
		out.CrossedOpsPerSecond = out.Steps[crossed].OfferedOpsPerSecond
	}
	out.TotalSeconds = time.Since(start).Seconds()
	return out, nil
}

// pick returns the index of the passing step with the highest offered rate
// and of the failing step with the lowest offered rate above it (above 0
// when none passed); -1 for none.
func pick(steps []Step) (best, crossed int) {
	best, crossed = -1, -1
	for i, s := range steps {
		if s.Passed && (best < 0 || s.OfferedOpsPerSecond > steps[best].OfferedOpsPerSecond) {
			best = i
		}
	}
	floor := 0.0
	if best >= 0 {
		floor = steps[best].OfferedOpsPerSecond
	}
	for i, s := range steps {
		if !s.Passed && s.OfferedOpsPerSecond > floor && (crossed < 0 || s.OfferedOpsPerSecond < steps[crossed].OfferedOpsPerSecond) {
			crossed = i
		}
	}
	return best, crossed
}
