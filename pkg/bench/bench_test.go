package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestLatencySummary(t *testing.T) {
	t.Parallel()
	ms := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i+1) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name                         string
		in                           []time.Duration
		count, clamped               int64
		p50, p95, p99, maxMs, meanMs float64
	}{
		{name: "1..100 ms", in: ms(100), count: 100, p50: 50, p95: 95, p99: 99, maxMs: 100, meanMs: 50.5},
		{name: "one value", in: []time.Duration{1500 * time.Microsecond}, count: 1, p50: 1.5, p95: 1.5, p99: 1.5, maxMs: 1.5, meanMs: 1.5},
		{name: "negative counts as 0", in: []time.Duration{-time.Second}, count: 1, clamped: 1},
		{name: "beyond 10 min is 10 min", in: []time.Duration{time.Hour}, count: 1, clamped: 1,
			p50: 600000, p95: 600000, p99: 600000, maxMs: 600000, meanMs: 600000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRecorder()
			for _, d := range tt.in {
				r.record(d)
			}
			got := r.summary("basis")
			if got.Basis != "basis" || got.Count != tt.count || got.Clamped != tt.clamped {
				t.Fatalf("summary %+v, want count %d clamped %d", got, tt.count, tt.clamped)
			}
			// 3 significant digits: within 0.1 %.
			near := func(what string, got, want float64) {
				if math.Abs(got-want) > want*0.001+1e-9 {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			near("p50", got.P50ms, tt.p50)
			near("p95", got.P95ms, tt.p95)
			near("p99", got.P99ms, tt.p99)
			near("max", got.MaxMs, tt.maxMs)
			near("mean", got.MeanMs, tt.meanMs)
		})
	}
}

func TestPacerDue(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	tests := []struct {
		rate float64
		i    int
		want time.Duration
	}{
		{rate: 0, i: 5, want: 0},
		{rate: 10, i: 0, want: 0},
		{rate: 10, i: 1, want: 100 * time.Millisecond},
		{rate: 10, i: 25, want: 2500 * time.Millisecond},
		{rate: 3, i: 1, want: 333333333},
		{rate: 0.5, i: 3, want: 6 * time.Second},
	}
	for _, tt := range tests {
		if got := (pacer{start: t0, rate: tt.rate}).due(tt.i).Sub(t0); got != tt.want {
			t.Errorf("rate %v job %d: due after %v, want %v", tt.rate, tt.i, got, tt.want)
		}
	}
}

// fakeClock advances only when slept on, and records the sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration // since the start
	start  time.Time
}

func newFakeClock() *fakeClock {
	t0 := time.Unix(1000, 0)
	return &fakeClock{now: t0, start: t0}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(_ context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, t.Sub(c.start))
	c.now = t
	return nil
}

// advance moves the clock as if work took d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestPacerWait(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := pacer{start: clk.Now(), rate: 4} // every 250ms
	ctx := context.Background()
	for i := range 3 {
		if err := p.wait(ctx, clk, i); err != nil {
			t.Fatal(err)
		}
	}
	// Falling behind (job 3 is due at 750ms, it is 1.6s): no sleep for jobs
	// 3 to 6, and the schedule is not shifted: job 7 is still due at 1.75s.
	clk.advance(1100 * time.Millisecond)
	for i := 3; i < 8; i++ {
		if err := p.wait(ctx, clk, i); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 1750 * time.Millisecond}
	if fmt.Sprint(clk.sleeps) != fmt.Sprint(want) {
		t.Errorf("slept until %v, want %v", clk.sleeps, want)
	}
	if err := (pacer{rate: 0}).wait(ctx, clk, 99); err != nil || len(clk.sleeps) != 3 {
		t.Errorf("unpaced wait: %v, sleeps %v", err, clk.sleeps)
	}
}

func TestAchievedRate(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	tests := []struct {
		n    int
		span time.Duration
		want float64
	}{
		{n: 11, span: time.Second, want: 10},
		{n: 2, span: 500 * time.Millisecond, want: 2},
		{n: 1, span: 0, want: 0},
		{n: 5, span: 0, want: 0},
	}
	for _, tt := range tests {
		if got := achievedRate(tt.n, t0, t0.Add(tt.span)); got != tt.want {
			t.Errorf("achievedRate(%d, %v) = %v, want %v", tt.n, tt.span, got, tt.want)
		}
	}
}

func TestRunEnd(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	polled := start.Add(10 * time.Second)
	tests := []struct {
		name string
		last time.Time
		want time.Time
	}{
		{name: "last completion within the run", last: start.Add(9 * time.Second), want: start.Add(9 * time.Second)},
		{name: "completion equal to the poll", last: polled, want: polled},
		{name: "clock ahead", last: polled.Add(time.Second), want: polled},
		{name: "clock behind", last: start.Add(-time.Second), want: polled},
		{name: "none", want: polled},
	}
	for _, tt := range tests {
		if got := runEnd(start, polled, tt.last); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOpLatencyDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want bool
	}{
		{name: "w1 unpaced", cfg: Config{Jobs: 2000, OpsPerJob: 10}, want: false},
		{name: "w1 paced", cfg: Config{Jobs: 2000, OpsPerJob: 10, Rate: 50}, want: true},
		{name: "w2: 200,000 to read back", cfg: Config{Jobs: 200, OpsPerJob: 1000}, want: false},
		{name: "100 jobs of 1,000", cfg: Config{Jobs: 100, OpsPerJob: 1000}, want: true},
		{name: "w3", cfg: Config{Jobs: 1, OpsPerJob: 100000}, want: true},
		{name: "too many to read back", cfg: Config{Jobs: 1000, OpsPerJob: 1000}, want: false},
		{name: "forced on", cfg: Config{Jobs: 1000, OpsPerJob: 1000, OpLatency: OpLatencyOn}, want: true},
		{name: "forced off", cfg: Config{Jobs: 1, OpsPerJob: 100000, OpLatency: OpLatencyOff}, want: false},
	}
	for _, tt := range tests {
		if got := tt.cfg.opLatency(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, s := range []string{"auto", "on", "off", "true", "false", ""} {
		if _, err := ParseOpLatency(s); err != nil {
			t.Errorf("ParseOpLatency(%q): %v", s, err)
		}
	}
	if _, err := ParseOpLatency("sometimes"); err == nil {
		t.Error("ParseOpLatency(sometimes): no error")
	}
}

func TestLookupWorkload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		jobs, ops, concurrency int
		sweep                  bool
	}{
		{name: "w1", jobs: 2000, ops: 10, concurrency: 16},
		{name: "w2", jobs: 200, ops: 1000, concurrency: 16},
		{name: "w3", jobs: 1, ops: 100000, concurrency: 1},
		{name: "w4", ops: 10, concurrency: 16, sweep: true},
	}
	for _, tt := range tests {
		w, err := LookupWorkload(tt.name)
		if err != nil || w.Jobs != tt.jobs || w.OpsPerJob != tt.ops || w.Concurrency != tt.concurrency || w.Sweep != tt.sweep {
			t.Errorf("%s: %+v %v", tt.name, w, err)
		}
	}
	if _, err := LookupWorkload("w5"); err == nil {
		t.Error("w5: no error")
	}
}

func TestStepJobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate    float64
		d       time.Duration
		minJobs int
		want    int
	}{
		{rate: 110, d: 10 * time.Second, minJobs: 50, want: 1100},
		{rate: 5.5, d: 10 * time.Second, minJobs: 50, want: 55},
		{rate: 4, d: 10 * time.Second, minJobs: 50, want: 50},   // 12.5 s
		{rate: 1, d: 10 * time.Second, minJobs: 50, want: 20},   // capped at 20 s
		{rate: 0.01, d: 10 * time.Second, minJobs: 50, want: 2}, // at least a rate
	}
	for _, tt := range tests {
		if got := stepJobs(tt.rate, tt.d, tt.minJobs); got != tt.want {
			t.Errorf("stepJobs(%v, %v, %d) = %d, want %d", tt.rate, tt.d, tt.minJobs, got, tt.want)
		}
	}
}

func TestPick(t *testing.T) {
	t.Parallel()
	step := func(offered float64, passed bool) Step { return Step{OfferedOpsPerSecond: offered, Passed: passed} }
	tests := []struct {
		name          string
		steps         []Step
		best, crossed int
	}{
		{name: "none", steps: nil, best: -1, crossed: -1},
		{name: "all pass", steps: []Step{step(100, true), step(200, true), step(300, true)}, best: 2, crossed: -1},
		{name: "crosses", steps: []Step{step(100, true), step(200, true), step(300, false), step(400, false)}, best: 1, crossed: 2},
		{name: "none pass", steps: []Step{step(100, false), step(200, false)}, best: -1, crossed: 0},
		{name: "noisy: a pass above a failure", steps: []Step{step(100, true), step(200, false), step(300, true), step(400, false)}, best: 2, crossed: 3},
		{name: "offered below target: ordered by offered rate", steps: []Step{step(100, true), step(250, false), step(240, true)}, best: 2, crossed: 1},
	}
	for _, tt := range tests {
		if best, crossed := pick(tt.steps); best != tt.best || crossed != tt.crossed {
			t.Errorf("%s: pick = %d, %d; want %d, %d", tt.name, best, crossed, tt.best, tt.crossed)
		}
	}
}

// fakeJobs is an in-memory JobService: job i (in creation order) completes
// (i+1) ms after its creation, operation k of a job k+1 µs after it, and
// every fifth job fails.
type fakeJobs struct {
	jobsv1.JobServiceClient
	mu     sync.Mutex
	jobs   []*jobsv1.Job
	ops    int
	polled map[string]int
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func (f *fakeJobs) CreateJob(_ context.Context, in *jobsv1.CreateJobRequest, _ ...grpc.CallOption) (*jobsv1.CreateJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := len(f.jobs)
	state := jobsv1.JobState_JOB_STATE_SUCCEEDED
	if i%5 == 4 {
		state = jobsv1.JobState_JOB_STATE_FAILED
	}
	j := &jobsv1.Job{
		Id: fmt.Sprintf("job-%d", i), State: state, TotalOperations: int32(len(in.GetOperations())), // #nosec G115 -- test sizes
		CreateTime: timestamppb.New(t0), CompleteTime: timestamppb.New(t0.Add(time.Duration(i+1) * time.Millisecond)),
	}
	f.jobs = append(f.jobs, j)
	f.ops = len(in.GetOperations())
	return &jobsv1.CreateJobResponse{Job: &jobsv1.Job{Id: j.GetId()}}, nil
}

func (f *fakeJobs) find(id string) *jobsv1.Job {
	for _, j := range f.jobs {
		if j.GetId() == id {
			return j
		}
	}
	return nil
}

// GetJob reports a job complete from its second read on, so following
// takes a poll round.
func (f *fakeJobs) GetJob(_ context.Context, in *jobsv1.GetJobRequest, _ ...grpc.CallOption) (*jobsv1.GetJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.polled == nil {
		f.polled = map[string]int{}
	}
	f.polled[in.GetId()]++
	j := f.find(in.GetId())
	if f.polled[in.GetId()] == 1 {
		return &jobsv1.GetJobResponse{Job: &jobsv1.Job{Id: j.GetId(), CreateTime: j.GetCreateTime()}}, nil
	}
	return &jobsv1.GetJobResponse{Job: j}, nil
}

func (f *fakeJobs) ListJobOperations(_ context.Context, in *jobsv1.ListJobOperationsRequest, _ ...grpc.CallOption) (*jobsv1.ListJobOperationsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	from := 0
	if in.GetPageToken() != "" {
		if _, err := fmt.Sscan(in.GetPageToken(), &from); err != nil {
			return nil, err
		}
	}
	to := min(from+int(in.GetPageSize()), f.ops)
	resp := &jobsv1.ListJobOperationsResponse{}
	for k := from; k < to; k++ {
		resp.Operations = append(resp.Operations, &jobsv1.Operation{
			JobId: in.GetJobId(), Index: int32(k), // #nosec G115 -- test sizes
			CompleteTime: timestamppb.New(t0.Add(time.Duration(k+1) * time.Microsecond)),
		})
	}
	if to < f.ops {
		resp.NextPageToken = fmt.Sprint(to)
	}
	return resp, nil
}

// exposition is a /metrics body of the process collector.
func exposition(cpu, rss float64) string {
	return fmt.Sprintf(`# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total %g
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes %g
# HELP jobplane_jobs_created_total Jobs created.
# TYPE jobplane_jobs_created_total counter
jobplane_jobs_created_total{node="client-0"} 12
# HELP jobplane_store_write_seconds Time a MongoDB write took (holding the process's write lock).
# TYPE jobplane_store_write_seconds histogram
jobplane_store_write_seconds_bucket{collection="jobs",op="insert",le="+Inf"} 3
jobplane_store_write_seconds_sum{collection="jobs",op="insert"} %g
jobplane_store_write_seconds_count{collection="jobs",op="insert"} 3
jobplane_store_write_seconds_bucket{collection="outbox",op="delete",le="+Inf"} 1
jobplane_store_write_seconds_sum{collection="outbox",op="delete"} %g
jobplane_store_write_seconds_count{collection="outbox",op="delete"} 1
`, cpu, rss, cpu/4, cpu/4)
}

// metricsServer serves exposition(cpu, rss) with both growing at every
// scrape: scrape n (from 0) reports n CPU seconds, n/2 seconds of writes
// and (n+1)×10 MB.
func metricsServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, exposition(float64(n), float64(n+1)*10e6))
		n++
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		jobs, ops              int
		rate                   float64
		opLatency              OpLatency
		wantOpCount            int64
		wantSleeps             int
		wantJobP99, wantJobMax float64
	}{
		{name: "unpaced, per job", jobs: 100, ops: 3, opLatency: OpLatencyOff, wantJobP99: 99, wantJobMax: 100},
		{name: "paced at 1000 jobs/s", jobs: 10, ops: 3, rate: 1000, wantOpCount: 30, wantSleeps: 9, wantJobP99: 10, wantJobMax: 10},
		{name: "one job of 250: three pages", jobs: 1, ops: 250, wantOpCount: 250, wantJobP99: 1, wantJobMax: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeJobs{}
			clk := newFakeClock()
			srv := metricsServer(t)
			cfg := Config{
				Workload: "test", Jobs: tt.jobs, OpsPerJob: tt.ops, Concurrency: 4, Rate: tt.rate, OpLatency: tt.opLatency,
				Metrics: []Target{{Name: "svc", URL: srv.URL + "/metrics"}}, SampleEvery: time.Hour,
				PollInterval: time.Millisecond, clock: clk,
			}
			r, err := Run(context.Background(), fake, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Operations != tt.jobs*tt.ops || r.Jobs != tt.jobs || r.Failed != tt.jobs/5 {
				t.Errorf("result %+v", r)
			}
			near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.001 } // 3 significant digits
			if r.JobLatency.Count != int64(tt.jobs) || !near(r.JobLatency.P99ms, tt.wantJobP99) || !near(r.JobLatency.MaxMs, tt.wantJobMax) {
				t.Errorf("job latency %+v", r.JobLatency)
			}
			if tt.wantOpCount == 0 {
				if r.OperationLatency != nil {
					t.Errorf("operation latency %+v, want none", r.OperationLatency)
				}
			} else if r.OperationLatency == nil || r.OperationLatency.Count != tt.wantOpCount {
				t.Errorf("operation latency %+v, want %d", r.OperationLatency, tt.wantOpCount)
			}
			if len(clk.sleeps) != tt.wantSleeps {
				t.Errorf("pacer slept %d times, want %d", len(clk.sleeps), tt.wantSleeps)
			}
			// Two scrapes (the sampler never ticks): 0 → 1 CPU s, 20 MB peak.
			if len(r.Services) != 1 || r.Services[0].CPUSeconds != 1 || r.Services[0].PeakRSSMB != 20 || r.Services[0].Samples != 2 || r.Services[0].Error != "" {
				t.Errorf("services %+v", r.Services)
			} else if busy := r.Services[0].WriterBusyPercent; busy == nil || !near(*busy, r.Services[0].CPUPercent/2) {
				t.Errorf("writer busy %v, want half the cpu %% (%v)", busy, r.Services[0].CPUPercent)
			}
			var b strings.Builder
			if err := r.WriteTable(&b); err != nil || !strings.Contains(b.String(), "per job") || !strings.Contains(b.String(), "svc") {
				t.Errorf("table: %v\n%s", err, b.String())
			}
		})
	}
}

func TestRunRejects(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Jobs: 0, OpsPerJob: 1, Concurrency: 1},
		{Jobs: 1, OpsPerJob: 0, Concurrency: 1},
		{Jobs: 1, OpsPerJob: 1, Concurrency: 0},
		{Jobs: 1, OpsPerJob: 1, Concurrency: 1, Rate: -1},
	} {
		if _, err := Run(context.Background(), &fakeJobs{}, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	// An unreachable metrics target fails before the run.
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	fake := &fakeJobs{}
	_, err := Run(context.Background(), fake, Config{Jobs: 1, OpsPerJob: 1, Concurrency: 1, Metrics: []Target{{Name: "x", URL: srv.URL}}})
	if err == nil || len(fake.jobs) != 0 {
		t.Errorf("404 metrics target: err %v, %d jobs created", err, len(fake.jobs))
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	fake := &fakeJobs{}
	var progress []int
	sc := SweepConfig{
		Base:             Config{Workload: "w4", OpsPerJob: 10, Concurrency: 2, PollInterval: time.Millisecond, clock: newFakeClock()},
		PeakOpsPerSecond: 1000, Fractions: []float64{0.1, 0.5, 1}, StepDuration: time.Second, MinStepJobs: 5,
		TargetP99: time.Hour,
		Progress:  func(i, _ int, _ Step) { progress = append(progress, i) },
	}
	s, err := Sweep(context.Background(), fake, sc)
	if err != nil {
		t.Fatal(err)
	}
	// 10 jobs/s for 1s, 50, 100: 10 + 50 + 100 jobs.
	if len(s.Steps) != 3 || len(fake.jobs) != 160 || fmt.Sprint(progress) != "[0 1 2]" || s.Peak != nil {
		t.Fatalf("steps %d, jobs %d, progress %v", len(s.Steps), len(fake.jobs), progress)
	}
	for _, st := range s.Steps {
		if !st.Passed || st.Result.OperationLatency != nil {
			t.Errorf("step %+v", st)
		}
	}
	// Every step passed: the best is the highest offered rate (under the
	// fake clock, about the target).
	top := max(s.Steps[0].OfferedOpsPerSecond, s.Steps[1].OfferedOpsPerSecond, s.Steps[2].OfferedOpsPerSecond)
	if s.MaxOpsPerSecond != top || s.CrossedOpsPerSecond != 0 {
		t.Errorf("max %v crossed %v", s.MaxOpsPerSecond, s.CrossedOpsPerSecond)
	}
	var b strings.Builder
	if err := s.WriteTable(&b); err != nil || !strings.Contains(b.String(), "highest rate") {
		t.Errorf("table: %v\n%s", err, b.String())
	}
}

func TestSweepStopsOverTarget(t *testing.T) {
	t.Parallel()
	fake := &fakeJobs{}
	sc := SweepConfig{
		Base:      Config{OpsPerJob: 1, Concurrency: 2, PollInterval: time.Millisecond, clock: newFakeClock()},
		PeakJobs:  5, // measured: job latencies are 1..5 ms, then rising with every job
		Fractions: []float64{0.1, 0.2, 0.3, 0.4}, StepDuration: time.Millisecond, MinStepJobs: 5,
		TargetP99: 7 * time.Millisecond, StopAfter: 2,
	}
	s, err := Sweep(context.Background(), fake, sc)
	if err != nil {
		t.Fatal(err)
	}
	// Step 1 (jobs 6-10, p99 10 ms) and step 2 (15 ms) are over: stop.
	if s.Peak == nil || len(s.Steps) != 2 || s.MaxOpsPerSecond != 0 || s.CrossedOpsPerSecond == 0 {
		t.Errorf("peak %v, steps %d, max %v, crossed %v", s.Peak != nil, len(s.Steps), s.MaxOpsPerSecond, s.CrossedOpsPerSecond)
	}
}

// lateJobs is a JobService whose jobs all stay running until the newest one
// has been read three times.
type lateJobs struct {
	jobsv1.JobServiceClient
	mu     sync.Mutex
	newest string
	reads  map[string]int
	total  int
}

func (f *lateJobs) GetJob(_ context.Context, in *jobsv1.GetJobRequest, _ ...grpc.CallOption) (*jobsv1.GetJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total++
	f.reads[in.GetId()]++
	j := &jobsv1.Job{Id: in.GetId(), CreateTime: timestamppb.New(t0)}
	if f.reads[f.newest] >= 3 {
		j.CompleteTime = timestamppb.New(t0.Add(time.Millisecond))
	}
	return &jobsv1.GetJobResponse{Job: j}, nil
}

// TestFollowReadsLittleWhileJobsRun: while the newest job runs, following
// reads that job alone each round, not every pending job, and it still
// returns every job once they are done.
func TestFollowReadsLittleWhileJobsRun(t *testing.T) {
	t.Parallel()
	const jobs, concurrency = 100, 4
	ids := make([]string, jobs)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", i)
	}
	f := &lateJobs{newest: ids[jobs-1], reads: map[string]int{}}
	got, err := follow(t.Context(), f, Config{Concurrency: concurrency, PollInterval: time.Millisecond}, ids)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, j := range got {
		seen[j.GetId()] = true
	}
	if len(got) != jobs || len(seen) != jobs {
		t.Fatalf("followed %d jobs (%d distinct), want %d", len(got), len(seen), jobs)
	}
	// Two rounds of the newest job alone while running, then one sweep.
	if limit := 2 + jobs; f.total > limit {
		t.Errorf("%d reads, want at most %d (reading every pending job each round takes %d)", f.total, limit, 3*jobs)
	}
}
