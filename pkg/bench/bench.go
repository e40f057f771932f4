// Package bench is the load generator behind `jobctl bench`: it submits jobs
// over gRPC with C concurrent callers, as fast as possible or at a target
// rate, follows them to completion, and reports throughput, latency
// percentiles from an HDR histogram and, from their /metrics, the CPU and
// memory of the service processes. Workloads W1–W3 are presets of Run; W4
// is Sweep.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
)

// Workload is a named preset of the workloads.
type Workload struct {
	Name        string
	Jobs        int
	OpsPerJob   int
	Concurrency int
	// Sweep runs W1-shaped load at increasing rates (W4) instead of one run.
	Sweep bool
	About string
}

// Workloads are the presets of --workload.
var Workloads = []Workload{
	{Name: "w1", Jobs: 2000, OpsPerJob: 10, Concurrency: 16, About: "20,000 expr operations in 2,000 jobs of 10, 16 callers"},
	{Name: "w2", Jobs: 200, OpsPerJob: 1000, Concurrency: 16, About: "200 jobs of 1,000 operations, 16 callers"},
	{Name: "w3", Jobs: 1, OpsPerJob: 100000, Concurrency: 1, About: "a single job of 100,000 operations"},
	{Name: "w4", Jobs: 0, OpsPerJob: 10, Concurrency: 16, Sweep: true, About: "rate sweep of W1-shaped load: the highest rate whose p99 stays under 50 ms"},
}

// LookupWorkload returns the preset called name.
func LookupWorkload(name string) (Workload, error) {
	for _, w := range Workloads {
		if w.Name == name {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("unknown workload %q: want w1, w2, w3 or w4", name)
}

// OpLatency says whether to measure per-operation latency.
type OpLatency int

const (
	// OpLatencyAuto measures it when it is cheap and telling: see
	// Config.opLatency.
	OpLatencyAuto OpLatency = iota
	OpLatencyOn
	OpLatencyOff
)

// opLatencyAutoMax bounds the operations read back under OpLatencyAuto:
// ListJobOperations pages of 100 after the run, about 0.6 s per 1,000
// operations on the embedded default (W3's 100,000: a minute).
const opLatencyAutoMax = 100_000

// ParseOpLatency reads auto, on or off.
func ParseOpLatency(s string) (OpLatency, error) {
	switch s {
	case "auto", "":
		return OpLatencyAuto, nil
	case "on", "true":
		return OpLatencyOn, nil
	case "off", "false":
		return OpLatencyOff, nil
	}
	return 0, fmt.Errorf("op latency %q: want auto, on or off", s)
}

// Config is one run.
type Config struct {
	// Workload names the preset, for the report only.
	Workload    string
	Jobs        int
	OpsPerJob   int
	Concurrency int
	// Rate is the target submission rate in jobs per second; 0 submits as
	// fast as the callers go. Callers stay bounded by Concurrency.
	Rate float64
	// OpLatency: after the run, page through every job's operations and
	// record job create_time → operation complete_time for each.
	OpLatency OpLatency
	// Metrics are the services' /metrics endpoints to take CPU and memory
	// from; HTTPClient scrapes them (nil: http.DefaultClient), every
	// SampleEvery (default 500ms) during the run for the peak memory.
	Metrics     []Target
	HTTPClient  *http.Client
	SampleEvery time.Duration
	// PollInterval is how often unfinished jobs are re-read (default 50ms).
	PollInterval time.Duration

	clock clock // nil: real time
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Jobs < 1:
		return errors.New("jobs must be positive")
	case cfg.OpsPerJob < 1:
		return errors.New("ops per job must be positive")
	case cfg.Concurrency < 1:
		return errors.New("concurrency must be positive")
	case cfg.Rate < 0:
		return errors.New("rate must not be negative")
	}
	return nil
}

// opLatency decides whether to measure per-operation latency. Auto: for
// jobs of at least 100 operations, where a job's latency is mostly its own
// length (W3), and for paced runs, as long as at most 100,000 operations
// are to be read back (not W2's 200,000: three minutes).
func (cfg *Config) opLatency() bool {
	switch cfg.OpLatency {
	case OpLatencyOn:
		return true
	case OpLatencyOff:
		return false
	}
	return cfg.Jobs*cfg.OpsPerJob <= opLatencyAutoMax && (cfg.OpsPerJob >= 100 || cfg.Rate > 0)
}

// Latency bases, as reported. A job's complete_time is when the client
// service applied its last result; an operation's is when the server
// finished it (the result's way back, through the response topic and the
// applier, is not in it). Service timestamps have millisecond resolution.
const (
	BasisJob       = "per job: job create_time → job complete_time (last result applied)"
	BasisOperation = "per operation: job create_time → operation complete_time (finished on the server)"
)

// Result summarises a run. Latencies are taken from the service's
// timestamps (create_time at submission, complete_time at the last result).
type Result struct {
	Workload    string `json:"workload,omitempty"`
	Jobs        int    `json:"jobs"`
	OpsPerJob   int    `json:"operations_per_job"`
	Operations  int    `json:"operations"`
	Concurrency int    `json:"concurrency"`
	// TargetJobsPerSecond is Config.Rate (0: as fast as possible);
	// SubmitJobsPerSecond the rate at which submissions started.
	TargetJobsPerSecond float64 `json:"target_jobs_per_second"`
	SubmitJobsPerSecond float64 `json:"submit_jobs_per_second"`
	SubmitSeconds       float64 `json:"submit_seconds"`
	// TotalSeconds runs from the first submission to the last completion.
	TotalSeconds     float64  `json:"total_seconds"`
	OpsPerSecond     float64  `json:"operations_per_second"`
	JobLatency       *Latency `json:"job_latency"`
	OperationLatency *Latency `json:"operation_latency,omitempty"`
	// OperationReadSeconds is the time taken after the run to read the
	// operations back for OperationLatency.
	OperationReadSeconds float64        `json:"operation_read_seconds,omitempty"`
	Failed               int            `json:"jobs_not_succeeded"`
	Services             []ServiceUsage `json:"services,omitempty"`
	Notes                []string       `json:"notes,omitempty"`
}

// Run submits the workload, waits for every job to be terminal and, when
// asked, reads the operations back for their latencies.
func Run(ctx context.Context, c jobsv1.JobServiceClient, cfg Config) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 50*time.Millisecond)
	cfg.SampleEvery = cmp.Or(cfg.SampleEvery, 500*time.Millisecond)
	cfg.HTTPClient = cmp.Or(cfg.HTTPClient, http.DefaultClient)
	if cfg.clock == nil {
		cfg.clock = realClock{}
	}

	var mon *monitor
	if len(cfg.Metrics) > 0 {
		var err error
		if mon, err = startMonitor(ctx, cfg.HTTPClient, cfg.Metrics, cfg.SampleEvery); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	sub, err := submit(ctx, c, cfg, start)
	var jobs []*jobsv1.Job
	if err == nil {
		jobs, err = follow(ctx, c, cfg, sub.ids)
	}
	var services []ServiceUsage
	if mon != nil {
		services = mon.finish(ctx)
	}
	if err != nil {
		return nil, err
	}
	end := time.Now()

	r := &Result{
		Workload: cfg.Workload, Jobs: cfg.Jobs, OpsPerJob: cfg.OpsPerJob, Operations: cfg.Jobs * cfg.OpsPerJob,
		Concurrency: cfg.Concurrency, TargetJobsPerSecond: cfg.Rate, SubmitJobsPerSecond: sub.rate,
		SubmitSeconds: sub.elapsed.Seconds(), Services: services,
	}
	rec := newRecorder()
	var last time.Time
	for _, j := range jobs {
		created, completed := j.GetCreateTime().AsTime(), j.GetCompleteTime().AsTime()
		rec.record(completed.Sub(created))
		if completed.After(last) {
			last = completed
		}
		if j.GetState() != jobsv1.JobState_JOB_STATE_SUCCEEDED {
			r.Failed++
		}
	}
	r.TotalSeconds = runEnd(start, end, last).Sub(start).Seconds()
	r.OpsPerSecond = float64(r.Operations) / r.TotalSeconds
	r.JobLatency = rec.summary(BasisJob)
	if cfg.Jobs == 1 {
		r.Notes = append(r.Notes, "one job: its latency is the whole run; the per-operation latency is the telling one")
	}
	if cfg.opLatency() {
		readStart := time.Now()
		if r.OperationLatency, err = opLatencies(ctx, c, cfg.Concurrency, jobs); err != nil {
			return nil, err
		}
		r.OperationReadSeconds = time.Since(readStart).Seconds()
		r.Notes = append(r.Notes, fmt.Sprintf("operations read back for their latency in %.1fs, after the run", r.OperationReadSeconds))
	} else if cfg.OpLatency == OpLatencyAuto {
		r.Notes = append(r.Notes, fmt.Sprintf("per-operation latency not taken (auto: only for jobs of ≥100 operations or paced runs, up to %d operations); --op-latency on takes it", opLatencyAutoMax))
	}
	if len(services) > 0 {
		r.Notes = append(r.Notes, "services: one process per /metrics target (process_cpu_seconds_total, process_resident_memory_bytes); processes without a target, such as devstack's embedded FerretDB and Kafka, are not counted")
	}
	return r, nil
}

// runEnd is the last completion as the service recorded it, rather than
// the poll that saw it, when it falls within the run (same host: the clocks
// agree); otherwise polledEnd.
func runEnd(start, polledEnd, lastComplete time.Time) time.Time {
	if lastComplete.After(start) && !lastComplete.After(polledEnd) {
		return lastComplete
	}
	return polledEnd
}

type submitted struct {
	ids     []string
	elapsed time.Duration
	rate    float64 // achieved, jobs per second
}

// submit creates the jobs with cfg.Concurrency callers, paced at cfg.Rate.
func submit(ctx context.Context, c jobsv1.JobServiceClient, cfg Config, start time.Time) (submitted, error) {
	ops := make([]*jobsv1.OperationInput, cfg.OpsPerJob)
	for i := range ops {
		ops[i] = &jobsv1.OperationInput{Request: fmt.Sprintf("%d * 2 + 1", i)}
	}
	ids := make([]string, cfg.Jobs)
	began := make([]time.Time, cfg.Jobs)
	next := make(chan int)
	errc := make(chan error, cfg.Concurrency)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for i := range next {
				resp, err := c.CreateJob(ctx, &jobsv1.CreateJobRequest{Operations: ops})
				if err != nil {
					errc <- fmt.Errorf("create job %d: %w", i, err)
					return
				}
				ids[i] = resp.GetJob().GetId()
			}
		})
	}
	p := pacer{start: cfg.clock.Now(), rate: cfg.Rate}
	var runErr error
feed:
	for i := range cfg.Jobs {
		if runErr = p.wait(ctx, cfg.clock, i); runErr != nil {
			break
		}
		select {
		case next <- i:
			// The feeder notes the start, once a caller has taken the job:
			// it alone moves a test's clock, so a caller reading the clock
			// could already see the next job's due time.
			began[i] = cfg.clock.Now()
		case runErr = <-errc:
			break feed
		case <-ctx.Done():
			runErr = ctx.Err()
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
		return submitted{}, runErr
	}
	return submitted{
		ids: ids, elapsed: time.Since(start),
		rate: achievedRate(cfg.Jobs, slices.MinFunc(began, time.Time.Compare), slices.MaxFunc(began, time.Time.Compare)),
	}, nil
}

// follow re-reads the unfinished jobs every cfg.PollInterval until all are
// terminal, and returns them. A round reads the newest pending job, then the
// others newest first, cfg.Concurrency at a time, and ends at the first
// group with an unfinished job: jobs finish about in the order they were
// submitted, so while the run goes on a round reads one job, and the full
// sweep comes when the newest jobs are done. Following thus hardly loads the run it measures
// (the peers' harness, likewise, counts completions only after its handlers
// are done); reading every pending job each round put thousands of GetJob
// calls on the client service during W1's last tenth of a second.
func follow(ctx context.Context, c jobsv1.JobServiceClient, cfg Config, ids []string) ([]*jobsv1.Job, error) {
	done := make([]*jobsv1.Job, 0, len(ids))
	pending := slices.Clone(ids)
	read := make([]*jobsv1.Job, cfg.Concurrency)
	for len(pending) > 0 {
		end := len(pending)
		var unfinished []string
		for size := 1; end > 0 && len(unfinished) == 0; size = cfg.Concurrency {
			group := pending[max(0, end-size):end]
			var wg sync.WaitGroup
			for i, id := range group {
				wg.Go(func() {
					resp, err := c.GetJob(ctx, &jobsv1.GetJobRequest{Id: id})
					if j := resp.GetJob(); err == nil && j.GetCompleteTime() != nil {
						read[i] = j
					} else {
						read[i] = nil
					}
				})
			}
			wg.Wait()
			for i, id := range group {
				if read[i] != nil {
					done = append(done, read[i])
				} else {
					unfinished = append(unfinished, id)
				}
			}
			end -= len(group)
		}
		pending = append(pending[:end], unfinished...)
		if len(pending) > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%d jobs not complete: %w", len(pending), ctx.Err())
			case <-time.After(cfg.PollInterval):
			}
		}
	}
	return done, nil
}

// opLatencies pages through the operations of every job and records job
// create_time → operation complete_time.
func opLatencies(ctx context.Context, c jobsv1.JobServiceClient, concurrency int, jobs []*jobsv1.Job) (*Latency, error) {
	rec := newRecorder()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan *jobsv1.Job)
	for range concurrency {
		wg.Go(func() {
			for j := range work {
				created := j.GetCreateTime().AsTime()
				token := ""
				for {
					resp, err := c.ListJobOperations(ctx, &jobsv1.ListJobOperationsRequest{JobId: j.GetId(), PageSize: 100, PageToken: token})
					mu.Lock()
					if err != nil {
						if firstErr == nil {
							firstErr = fmt.Errorf("list operations of job %s: %w", j.GetId(), err)
						}
						mu.Unlock()
						break
					}
					for _, op := range resp.GetOperations() {
						if op.GetCompleteTime() != nil {
							rec.record(op.GetCompleteTime().AsTime().Sub(created))
						}
					}
					mu.Unlock()
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return rec.summary(BasisOperation), nil
}
