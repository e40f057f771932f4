// Package bench is the load generator behind `jobctl bench`: it submits jobs
// over gRPC with C concurrent callers, follows them to completion, and
// reports throughput and submit-to-completion latency.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"google.golang.org/grpc/metadata"
)

// Config is a workload.
type Config struct {
	Jobs        int
	OpsPerJob   int
	Concurrency int
	// PollInterval is how often unfinished jobs are re-read.
	PollInterval time.Duration
	Token        string
}

// Result summarises a run. Latencies are per job, from its creation to its
// completion as recorded by the service (create_time, complete_time).
type Result struct {
	Jobs          int           `json:"jobs"`
	Operations    int           `json:"operations"`
	Concurrency   int           `json:"concurrency"`
	SubmitSeconds float64       `json:"submit_seconds"`
	TotalSeconds  float64       `json:"total_seconds"`
	OpsPerSecond  float64       `json:"operations_per_second"`
	P50, P95, P99 time.Duration `json:"-"`
	Max           time.Duration `json:"-"`
	P50ms         float64       `json:"latency_p50_ms"`
	P95ms         float64       `json:"latency_p95_ms"`
	P99ms         float64       `json:"latency_p99_ms"`
	MaxMs         float64       `json:"latency_max_ms"`
	Failed        int           `json:"jobs_not_succeeded"`
}

// Run submits the workload and waits for every job to be terminal.
func Run(ctx context.Context, c jobsv1.JobServiceClient, cfg Config) (*Result, error) {
	if cfg.Jobs < 1 || cfg.OpsPerJob < 1 || cfg.Concurrency < 1 {
		return nil, errors.New("jobs, ops per job and concurrency must be positive")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+cfg.Token)
	ops := make([]*jobsv1.OperationInput, cfg.OpsPerJob)
	for i := range ops {
		ops[i] = &jobsv1.OperationInput{Request: fmt.Sprintf("%d * 2 + 1", i)}
	}
	start := time.Now()
	ids := make([]string, cfg.Jobs)
	next := make(chan int)
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Concurrency)
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				resp, err := c.CreateJob(ctx, &jobsv1.CreateJobRequest{Operations: ops})
				if err != nil {
					errc <- fmt.Errorf("create job %d: %w", i, err)
					return
				}
				ids[i] = resp.GetJob().GetId()
			}
		}()
	}
	var runErr error
feed:
	for i := range cfg.Jobs {
		select {
		case next <- i:
		case runErr = <-errc:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if runErr == nil {
		select {
		case runErr = <-errc:
		default:
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	submitted := time.Since(start)

	// Follow completion: poll unfinished jobs with the same concurrency.
	latencies := make([]time.Duration, 0, cfg.Jobs)
	var mu sync.Mutex
	failed := 0
	pending := slices.Clone(ids)
	for len(pending) > 0 {
		var still []string
		var smu sync.Mutex
		work := make(chan string)
		var pwg sync.WaitGroup
		for range cfg.Concurrency {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				for id := range work {
					resp, err := c.GetJob(ctx, &jobsv1.GetJobRequest{Id: id})
					j := resp.GetJob()
					if err != nil || j.GetCompleteTime() == nil {
						smu.Lock()
						still = append(still, id)
						smu.Unlock()
						continue
					}
					mu.Lock()
					latencies = append(latencies, j.GetCompleteTime().AsTime().Sub(j.GetCreateTime().AsTime()))
					if j.GetState() != jobsv1.JobState_JOB_STATE_SUCCEEDED {
						failed++
					}
					mu.Unlock()
				}
			}()
		}
		for _, id := range pending {
			work <- id
		}
		close(work)
		pwg.Wait()
		pending = still
		if len(pending) > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(cfg.PollInterval):
			}
		}
	}
	// The last completion, as recorded by the service, ends the run.
	total := time.Since(start)
	slices.Sort(latencies)
	r := &Result{
		Jobs: cfg.Jobs, Operations: cfg.Jobs * cfg.OpsPerJob, Concurrency: cfg.Concurrency,
		SubmitSeconds: submitted.Seconds(), TotalSeconds: total.Seconds(),
		OpsPerSecond: float64(cfg.Jobs*cfg.OpsPerJob) / total.Seconds(),
		P50:          pct(latencies, 0.50), P95: pct(latencies, 0.95), P99: pct(latencies, 0.99), Max: latencies[len(latencies)-1],
		Failed: failed,
	}
	r.P50ms, r.P95ms, r.P99ms, r.MaxMs = ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max)
	return r, nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteTable prints the result as a table.
func (r *Result) WriteTable(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "jobs %d × %d ops = %d operations, concurrency %d\n", r.Jobs, r.Operations/r.Jobs, r.Operations, r.Concurrency)
	fmt.Fprintf(&b, "submitted in      %8.2fs\n", r.SubmitSeconds)
	fmt.Fprintf(&b, "all complete in   %8.2fs\n", r.TotalSeconds)
	fmt.Fprintf(&b, "throughput        %8.0f operations/s\n", r.OpsPerSecond)
	fmt.Fprintf(&b, "job latency p50   %8.1f ms   p95 %.1f ms   p99 %.1f ms   max %.1f ms\n", r.P50ms, r.P95ms, r.P99ms, r.MaxMs)
	fmt.Fprintf(&b, "jobs not succeeded %d\n", r.Failed)
	_, _ = io.WriteString(w, b.String())
}
