package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/groupcommit"
	"github.com/jobplane/jobplane/pkg/pagetoken"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"google.golang.org/grpc/metadata"
)

// Page sizes of the List methods (AIP-158).
const (
	defaultPageSize = 30
	maxPageSize     = 100
)

// sourceHeader is set by the REST gateway when a CreateJob body was
// text/plain, so that validation errors can name the line.
const sourceHeader = "x-jobplane-body-format"

// invalidUTF8Header is set by the REST gateway on a text/plain CreateJob to
// the fields whose bytes were not valid UTF-8 (JSON, between the gateway and
// the service, cannot carry them).
const invalidUTF8Header = "x-jobplane-invalid-utf8"

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// jobService implements jobsv1.JobServiceServer.
type jobService struct {
	jobsv1.UnimplementedJobServiceServer
	cfg       *Config
	store     *store.Store
	publisher *publisher
	// creates stores jobs in group commits; cleaner deletes outbox entries
	// of published jobs in batches (newCleaner).
	creates *groupcommit.Group[store.NewJob, store.Created]
	cleaner *groupcommit.Linger[cleanup]
	metrics *telemetry.Metrics
	log     *slog.Logger
	// watchInterval is how often WatchJob re-reads the job.
	watchInterval time.Duration
	// publishSlots holds a slot per background publish (see publishLater).
	publishSlots chan struct{}
}

func (s *jobService) CreateJob(ctx context.Context, req *jobsv1.CreateJobRequest) (*jobsv1.CreateJobResponse, error) {
	n, err := s.validateCreate(ctx, req)
	if err != nil {
		return nil, err
	}
	res, err := s.creates.Do(ctx, n)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return nil, err
	}
	job, ops, created := res.Job, res.Ops, res.Created
	if created {
		s.metrics.JobsCreated.Inc()
		s.metrics.OperationsCreated.Add(float64(len(ops)))
		s.log.DebugContext(ctx, "job created", "job_id", job.ID, "operations", len(ops))
		s.publishLater(ctx, job, ops)
	}
	return &jobsv1.CreateJobResponse{Job: jobToProto(job), OperationsCreated: count32(job.Total)}, nil
}

// publishLater publishes a new job in the background: the job is durable
// once CreateJobs has returned (its operations and its outbox entry are
// stored), so the call is answered without waiting for Kafka, as a
// transactional outbox does; if the publish fails or the process dies first,
// the relay publishes the job. A publish holds one of publishSlots: beyond
// cap(publishSlots) a call waits for a slot, and a call that ends while
// waiting leaves its job to the relay. waitPublishes takes every slot, so a
// call after it (a handler outliving a forced gRPC stop, whose context has
// ended) leaves its job to the relay too.
func (s *jobService) publishLater(ctx context.Context, job *store.Job, ops []store.Operation) {
	select {
	case s.publishSlots <- struct{}{}:
	case <-ctx.Done():
		s.deferPublish(ctx, job, ctx.Err())
		return
	}
	go func() {
		defer func() { <-s.publishSlots }()
		ctx := context.WithoutCancel(ctx) // the call's values (its trace), not its end
		if err := s.publish(ctx, job, ops); err != nil {
			s.deferPublish(ctx, job, err)
		}
	}()
}

// deferPublish leaves job's publication to the relay.
func (s *jobService) deferPublish(ctx context.Context, job *store.Job, err error) {
	s.store.PublishDeferred(context.WithoutCancel(ctx), job)
	s.log.WarnContext(ctx, "publish deferred to relay", "job_id", job.ID, "err", err)
}

// waitPublishes waits for the background publishes to end by taking every
// publish slot; it keeps them.
func (s *jobService) waitPublishes() {
	for range cap(s.publishSlots) {
		s.publishSlots <- struct{}{}
	}
}

// publish sends a new job's operations and then has its outbox entry
// deleted. If it fails or the process dies first, the relay publishes the
// job.
func (s *jobService) publish(ctx context.Context, job *store.Job, ops []store.Operation) error {
	if err := s.publisher.publishOperations(ctx, job, ops, 1); err != nil {
		return err
	}
	s.cleaner.Add(ctx, cleanup{published: job.ID})
	return nil
}

// Group commit of CreateJob: at most this many jobs or operations per
// batch. A batch waits groupcommit.CallerLinger for more callers after its
// first (groupcommit.WithLinger).
const (
	createBatchJobs = 256
	createBatchOps  = 10_000
)

// newCreateBatcher stores concurrently submitted jobs with one write per
// collection per batch (store.CreateJobs). One worker: FerretDB on SQLite
// serializes writes anyway, and the callers publish in parallel.
func newCreateBatcher(st *store.Store, metrics *telemetry.Metrics) *groupcommit.Group[store.NewJob, store.Created] {
	sizes := metrics.BatchItems.WithLabelValues("create_jobs")
	return groupcommit.New(1, createBatchJobs, createBatchOps,
		func(n store.NewJob) int { return len(n.Operations) },
		func(ctx context.Context, batch []store.NewJob) []store.Created {
			sizes.Observe(float64(len(batch)))
			return st.CreateJobs(ctx, batch)
		}, groupcommit.WithLinger(groupcommit.CallerLinger))
}

func (s *jobService) validateCreate(ctx context.Context, req *jobsv1.CreateJobRequest) (store.NewJob, error) {
	v := &validationError{}
	textPlain := false
	var invalidUTF8 []string
	if md, ok := metadata.FromIncomingContext(ctx); ok && slices.Contains(md.Get(sourceHeader), "text/plain") {
		textPlain = true
		for _, v := range md.Get(invalidUTF8Header) {
			invalidUTF8 = append(invalidUTF8, strings.Split(v, ",")...)
		}
	}
	where := func(i int) string {
		if textPlain {
			return fmt.Sprintf(" (line %d of the text/plain body)", i+1)
		}
		return ""
	}
	ops := req.GetOperations()
	switch {
	case len(ops) == 0 && textPlain:
		v.add("operations", "the body is empty: send one expression per line")
	case len(ops) == 0:
		v.add("operations", "at least one operation is required")
	case len(ops) > s.cfg.MaxOperationsPerJob:
		v.add("operations", "%d operations exceed the maximum of %d per job", len(ops), s.cfg.MaxOperationsPerJob)
	}
	n := store.NewJob{RequestID: req.GetRequestId(), PartitionKey: req.GetPartitionKey()}
	if len(ops) <= s.cfg.MaxOperationsPerJob {
		n.Operations = make([]store.OpInput, 0, len(ops))
		for i, op := range ops {
			typ := cmp.Or(op.GetType(), "expr")
			switch {
			case !typePattern.MatchString(typ):
				v.add(fmt.Sprintf("operations[%d].type", i), "%q is not a valid type name", typ)
			case !s.typeAccepted(typ):
				v.add(fmt.Sprintf("operations[%d].type", i), "unknown operation type %q (accepted: %s)", typ, strings.Join(s.cfg.OperationTypes, ", "))
			}
			r := op.GetRequest()
			switch {
			case strings.TrimSpace(r) == "":
				v.add(fmt.Sprintf("operations[%d].request", i), "must not be blank%s", where(i))
			case len(r) > s.cfg.MaxRequestBytes:
				v.add(fmt.Sprintf("operations[%d].request", i), "%d bytes exceed the maximum of %d%s", len(r), s.cfg.MaxRequestBytes, where(i))
			case !utf8.ValidString(r) || slices.Contains(invalidUTF8, fmt.Sprintf("operations[%d].request", i)):
				v.add(fmt.Sprintf("operations[%d].request", i), "must be valid UTF-8%s", where(i))
			}
			if len(v.violations) >= 20 {
				v.add("operations", "too many problems, stopped at operation %d", i)
				break
			}
			n.Operations = append(n.Operations, store.OpInput{Type: typ, Request: r})
		}
	}
	if len(n.RequestID) > 128 || !printable(n.RequestID) {
		v.add("request_id", "must be at most 128 printable ASCII characters")
	}
	if len(n.PartitionKey) > 256 || !utf8.ValidString(n.PartitionKey) || slices.Contains(invalidUTF8, "partition_key") {
		v.add("partition_key", "must be at most 256 bytes of UTF-8")
	}
	return n, v.errOrNil()
}

func (s *jobService) typeAccepted(typ string) bool {
	return slices.Contains(s.cfg.OperationTypes, "*") || slices.Contains(s.cfg.OperationTypes, typ)
}

func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func checkJobID(field, id string) error {
	if id == "" {
		return invalid(field, "is required")
	}
	if !store.ValidJobID(id) {
		return invalid(field, "%q is not a job id (a UUID such as 0190f8a2-1234-7abc-8def-0123456789ab)", id)
	}
	return nil
}

func (s *jobService) getJob(ctx context.Context, id string) (*store.Job, error) {
	j, err := s.store.GetJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &notFoundError{reason: "JOB_NOT_FOUND", resource: "job", id: id}
	}
	return j, err
}

func (s *jobService) GetJob(ctx context.Context, req *jobsv1.GetJobRequest) (*jobsv1.GetJobResponse, error) {
	if err := checkJobID("id", req.GetId()); err != nil {
		return nil, err
	}
	j, err := s.getJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &jobsv1.GetJobResponse{Job: jobToProto(j)}, nil
}

func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size", "must not be negative")
	case n == 0:
		return defaultPageSize, nil
	default:
		return min(int(n), maxPageSize), nil
	}
}

func (s *jobService) ListJobs(ctx context.Context, req *jobsv1.ListJobsRequest) (*jobsv1.ListJobsResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	states, err := jobStatesFilter(req.GetFilter())
	if err != nil {
		return nil, invalid("filter", "%v", err)
	}
	query := pagetoken.QueryHash("jobs", strings.TrimSpace(req.GetFilter()))
	var tok pagetoken.Token
	if req.GetPageToken() != "" {
		if tok, err = pagetoken.Decode(req.GetPageToken(), query); err != nil {
			return nil, err
		}
	}
	params := store.ListJobsParams{Limit: size, States: states}
	if tok.After != "" {
		// Index is the listing entry + 1: a token of the version before the
		// listing index (Index 0, After = the last job id) continues as a
		// listing by job id (entry -1), as it did then.
		params.After = &store.ListPosition{Entry: tok.Index - 1, JobID: tok.After}
	}
	jobs, next, err := s.store.ListJobs(ctx, params)
	if err != nil {
		return nil, err
	}
	resp := &jobsv1.ListJobsResponse{Jobs: make([]*jobsv1.Job, 0, len(jobs))}
	for _, j := range jobs {
		resp.Jobs = append(resp.Jobs, jobToProto(j))
	}
	if next != nil {
		resp.NextPageToken = pagetoken.Encode(pagetoken.Token{After: next.JobID, Index: next.Entry + 1, Query: query})
	}
	return resp, nil
}

func (s *jobService) DeleteJob(ctx context.Context, req *jobsv1.DeleteJobRequest) (*jobsv1.DeleteJobResponse, error) {
	if err := checkJobID("id", req.GetId()); err != nil {
		return nil, err
	}
	if err := s.store.DeleteJob(ctx, req.GetId()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &notFoundError{reason: "JOB_NOT_FOUND", resource: "job", id: req.GetId()}
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "job deleted", "job_id", req.GetId())
	return &jobsv1.DeleteJobResponse{}, nil
}

func (s *jobService) CancelJob(ctx context.Context, req *jobsv1.CancelJobRequest) (*jobsv1.CancelJobResponse, error) {
	if err := checkJobID("id", req.GetId()); err != nil {
		return nil, err
	}
	before, claims, err := s.store.ClaimCancelled(ctx, req.GetId())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &notFoundError{reason: "JOB_NOT_FOUND", resource: "job", id: req.GetId()}
		}
		return nil, err
	}
	if len(claims) == 0 {
		return &jobsv1.CancelJobResponse{Job: jobToProto(before)}, nil
	}
	// The operations are CANCELLED now; the owner of the job's counters
	// counts them when the cancellations arrive through the response topic.
	// If this publish fails, the relay sends them once the job stalls.
	if err := s.publisher.publishClaims(ctx, before.ID, claims); err != nil {
		return nil, fmt.Errorf("%w: publish cancellations: %v", errUnavailable, err)
	}
	s.log.InfoContext(ctx, "job cancelled", "job_id", before.ID, "cancelled", len(claims))
	j := s.awaitDone(ctx, before, before.Done()+int64(len(claims)))
	return &jobsv1.CancelJobResponse{Job: jobToProto(j)}, nil
}

// awaitDone re-reads the job until at least done operations are counted
// (bounded wait), so that a cancel is visible in the job it returns.
func (s *jobService) awaitDone(ctx context.Context, j *store.Job, done int64) *store.Job {
	deadline := time.Now().Add(5 * time.Second)
	for j.Done() < done && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return j
		case <-time.After(20 * time.Millisecond):
		}
		if fresh, err := s.store.GetJob(ctx, j.ID); err == nil {
			j = fresh
		}
	}
	return j
}

func (s *jobService) WatchJob(req *jobsv1.WatchJobRequest, stream jobsv1.JobService_WatchJobServer) error {
	ctx := stream.Context()
	if err := checkJobID("id", req.GetId()); err != nil {
		return err
	}
	var last *store.Job
	ticker := time.NewTicker(s.watchInterval)
	defer ticker.Stop()
	for {
		j, err := s.getJob(ctx, req.GetId())
		if err != nil {
			return err
		}
		if last == nil || j.Done() != last.Done() {
			if err := stream.Send(&jobsv1.WatchJobResponse{Job: jobToProto(j)}); err != nil {
				return err
			}
			last = j
		}
		if j.State().Terminal() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

func (s *jobService) ListJobOperations(ctx context.Context, req *jobsv1.ListJobOperationsRequest) (*jobsv1.ListJobOperationsResponse, error) {
	if err := checkJobID("job_id", req.GetJobId()); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	states, err := opStatesFilter(req.GetFilter())
	if err != nil {
		return nil, invalid("filter", "%v", err)
	}
	query := pagetoken.QueryHash("operations", req.GetJobId(), strings.TrimSpace(req.GetFilter()))
	var tok pagetoken.Token
	if req.GetPageToken() != "" {
		if tok, err = pagetoken.Decode(req.GetPageToken(), query); err != nil {
			return nil, err
		}
	}
	views, next, err := s.store.ListOperations(ctx, store.ListOperationsParams{JobID: req.GetJobId(), Start: tok.Index, Limit: size, States: states})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &notFoundError{reason: "JOB_NOT_FOUND", resource: "job", id: req.GetJobId()}
		}
		return nil, err
	}
	resp := &jobsv1.ListJobOperationsResponse{Operations: make([]*jobsv1.Operation, 0, len(views))}
	for _, v := range views {
		resp.Operations = append(resp.Operations, opToProto(v))
	}
	if next >= 0 {
		resp.NextPageToken = pagetoken.Encode(pagetoken.Token{Index: next, Query: query})
	}
	return resp, nil
}

func (s *jobService) GetJobOperation(ctx context.Context, req *jobsv1.GetJobOperationRequest) (*jobsv1.GetJobOperationResponse, error) {
	if err := checkJobID("job_id", req.GetJobId()); err != nil {
		return nil, err
	}
	if req.GetId() == "" {
		return nil, invalid("id", "is required")
	}
	if _, _, err := store.ParseOperationID(req.GetId()); err != nil {
		return nil, invalid("id", "%q is not an operation id ({job_id}-{index})", req.GetId())
	}
	v, err := s.store.GetOperation(ctx, req.GetJobId(), req.GetId())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &notFoundError{reason: "OPERATION_NOT_FOUND", resource: "operation", id: req.GetId()}
		}
		return nil, err
	}
	return &jobsv1.GetJobOperationResponse{Operation: opToProto(v)}, nil
}
