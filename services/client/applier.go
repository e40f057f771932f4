package client

import (
	"context"
	"log/slog"
	"time"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/groupcommit"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// applier applies operation results from the response topic to MongoDB.
type applier struct {
	store   *store.Store
	topic   string
	group   string // consumer group, for the spans
	metrics *telemetry.Metrics
	log     *slog.Logger
	// tracing: see applyTracer; nil: off.
	tracing *telemetry.Tracing
	// applies, when set, merges the batches of concurrently handled
	// partitions into one store call (see newApplyBatcher).
	applies *groupcommit.Group[[]store.Result, applyOutcome]
}

// applyOutcome is one partition batch's share of a merged ApplyResults.
type applyOutcome struct {
	stats store.ApplyStats
	err   error
}

// newApplyBatcher merges the result batches of up to all partitions that
// are waiting at the same time into one ApplyResults: one results insert and
// one archive step for all of them, and one writer instead of one per
// partition (FerretDB on SQLite serializes writers; measured: the applier
// was the bottleneck of W1, 1,200 results/s with a writer per partition).
// Merging is safe because a job's results are all in one partition (results
// are keyed by job id), so per-job offsets never mix. The merged call's
// statistics go to the first batch, which is all the metrics need.
func newApplyBatcher(st *store.Store, metrics *telemetry.Metrics) *groupcommit.Group[[]store.Result, applyOutcome] {
	sizes := metrics.BatchItems.WithLabelValues("apply_results")
	return groupcommit.New(1, 64, 10_000,
		func(b []store.Result) int { return len(b) },
		func(ctx context.Context, batches [][]store.Result) []applyOutcome {
			var all []store.Result
			for _, b := range batches {
				all = append(all, b...)
			}
			sizes.Observe(float64(len(all)))
			stats, err := st.ApplyResults(ctx, all)
			out := make([]applyOutcome, len(batches))
			for i := range out {
				out[i].err = err
			}
			out[0].stats = stats
			return out
		})
}

// apply applies a partition's batch, merged with others when batching.
func (a *applier) apply(ctx context.Context, batch []store.Result) (store.ApplyStats, error) {
	if a.applies == nil {
		return a.store.ApplyResults(ctx, batch)
	}
	res, err := a.applies.Do(ctx, batch)
	if err != nil {
		return store.ApplyStats{}, err
	}
	return res.stats, res.err
}

// observed is what the latency histogram needs of a result.
type observed struct {
	submit time.Time
	typ    string
}

// handle is the consumer's batch handler: it decodes the batch and applies
// it with one store call (InsertMany + one counter update per job). An
// undecodable message is counted and skipped: it carries no usable
// operation id, and the relay re-dispatches any operation left without a
// result.
//
// Tracing: each message gets a "process application.operation.response"
// CONSUMER span, a child of the server span whose context the message
// carries, so every operation's trace ends with its result being applied.
// The batch's one store call is an "apply results" span: the child of the
// message's span when the batch has one message, else a root span linked to
// every message's span (a batch belongs to many traces).
func (a *applier) handle(ctx context.Context, _ int, msgs []kafka.Message) error {
	a.metrics.ConsumerReceived.WithLabelValues(a.topic).Add(float64(len(msgs)))
	at := newApplyTracer(a.tracing, a.group, len(msgs))
	batch := make([]store.Result, 0, len(msgs))
	seen := make(map[string]observed, len(msgs))
	for i := range msgs {
		mctx := at.start(ctx, &msgs[i])
		res, err := queue.DecodeResult(&msgs[i])
		if err != nil {
			a.metrics.ConsumerErrors.WithLabelValues(a.topic).Inc()
			at.fail(err)
			a.log.ErrorContext(mctx, "undecodable result skipped", "partition", msgs[i].Partition, "offset", msgs[i].Offset, "err", err)
			continue
		}
		r := store.Result{
			ID:           res.GetOperationId(),
			JobID:        res.GetJobId(),
			Result:       res.GetResult(),
			Error:        res.GetError(),
			WorkerNode:   res.GetWorkerNode(),
			Attempt:      res.GetAttempt(),
			CompleteTime: time.Now().UTC().Truncate(time.Millisecond),
			Partition:    msgs[i].Partition,
			Offset:       msgs[i].Offset,
		}
		if res.GetEndTime() != nil {
			r.CompleteTime = res.GetEndTime().AsTime().UTC().Truncate(time.Millisecond)
		}
		switch res.GetState() {
		case queuev1.ResultState_RESULT_STATE_SUCCEEDED:
			r.State = store.OpSucceeded
		case queuev1.ResultState_RESULT_STATE_CANCELLED:
			r.State = store.OpCancelled
		default:
			r.State = store.OpFailed
		}
		at.result(&r)
		if res.GetSubmitTime() != nil {
			typ, ok := queue.Header(&msgs[i], queue.OperationTypeHeader)
			if !ok || typ == "" {
				typ = "unknown"
			}
			seen[r.ID] = observed{submit: res.GetSubmitTime().AsTime(), typ: typ}
		}
		batch = append(batch, r)
	}
	actx := at.startApply(ctx)
	st, err := a.apply(actx, batch)
	at.end(err)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, r := range batch {
		if o, ok := seen[r.ID]; ok {
			a.metrics.ResultLatencySeconds.WithLabelValues(o.typ, string(r.State)).Observe(now.Sub(o.submit).Seconds())
		}
	}
	a.metrics.DuplicateResults.Add(float64(st.Duplicates + st.Orphans))
	for state, n := range st.ByState {
		a.metrics.OperationsFinished.WithLabelValues(string(state)).Add(float64(n))
	}
	for _, j := range st.Completed {
		a.metrics.JobsFinished.WithLabelValues(string(j.State())).Inc()
		a.log.DebugContext(actx, "job completed", "job_id", j.ID, "state", string(j.State()), "operations", j.Total)
	}
	return nil
}

// applyTracer holds the spans of one batch; every method is a no-op when
// tracing is off.
type applyTracer struct {
	on     bool
	tracer trace.Tracer
	t      *telemetry.Tracing
	group  string
	msgs   []trace.Span // one per message, in order
	apply  trace.Span
}

func newApplyTracer(t *telemetry.Tracing, group string, n int) *applyTracer {
	if !t.Enabled() {
		return &applyTracer{}
	}
	return &applyTracer{on: true, tracer: t.Tracer(), t: t, group: group, msgs: make([]trace.Span, 0, n)}
}

// start starts the process span of m and returns its context.
func (at *applyTracer) start(ctx context.Context, m *kafka.Message) context.Context {
	if !at.on {
		return ctx
	}
	ctx, span := queue.StartProcess(ctx, at.tracer, at.t.TextMap(), at.group, m)
	at.msgs = append(at.msgs, span)
	return ctx
}

// fail marks the last message's span as failed.
func (at *applyTracer) fail(err error) {
	if !at.on {
		return
	}
	span := at.msgs[len(at.msgs)-1]
	span.RecordError(err)
	span.SetStatus(codes.Error, "undecodable result")
}

// result records the decoded result on the last message's span.
func (at *applyTracer) result(r *store.Result) {
	if !at.on {
		return
	}
	at.msgs[len(at.msgs)-1].SetAttributes(
		attribute.String("jobplane.job_id", r.JobID),
		attribute.String("jobplane.operation_id", r.ID),
		attribute.String("jobplane.operation.state", string(r.State)),
		attribute.String("jobplane.worker_node", r.WorkerNode),
	)
}

// startApply starts the span of the batch's store call.
func (at *applyTracer) startApply(ctx context.Context) context.Context {
	if !at.on {
		return ctx
	}
	opts := []trace.SpanStartOption{trace.WithAttributes(attribute.Int("messaging.batch.message_count", len(at.msgs)))}
	if len(at.msgs) == 1 {
		ctx = trace.ContextWithSpan(ctx, at.msgs[0])
	} else {
		links := make([]trace.Link, 0, len(at.msgs))
		for _, s := range at.msgs {
			links = append(links, trace.Link{SpanContext: s.SpanContext()})
		}
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(links...))
	}
	ctx, at.apply = at.tracer.Start(ctx, "apply results", opts...)
	return ctx
}

// end ends every span, with err (the store call's) on each.
func (at *applyTracer) end(err error) {
	if !at.on {
		return
	}
	for _, s := range append(at.msgs, at.apply) {
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, "apply results failed")
		}
		s.End()
	}
}
