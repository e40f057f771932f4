package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/handler"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// pool runs handlers for batches of operation requests.
type pool struct {
	cfg      *Config
	registry *handler.Registry
	writer   *kafka.Writer
	metrics  *telemetry.Metrics
	log      *slog.Logger
	// sem holds a slot per handler running, across all partitions: its
	// capacity is the number of workers (start), which bound them, and its
	// length is the in-flight count NodeService reports.
	sem chan struct{}
	// work feeds the pool's long-lived workers (see start).
	work    chan func()
	workers sync.WaitGroup
	// backoffBase is the first retry delay of a transient failure.
	backoffBase time.Duration
	// tracing: a CONSUMER span per message (see process); nil: off.
	tracing *telemetry.Tracing
}

// handle processes a batch of one partition. Messages with the same key run
// sequentially in offset order (per-key ordering, so a job with a partition
// key runs in submission order); different keys run concurrently, bounded by
// CONCURRENCY. The results (and dead letters) of the whole batch are written
// before the consumer commits its offsets.
func (p *pool) handle(ctx context.Context, _ int, msgs []kafka.Message) error {
	p.metrics.ConsumerReceived.WithLabelValues(p.cfg.Kafka.RequestTopic).Add(float64(len(msgs)))
	out := make([][]kafka.Message, len(msgs))
	groups := make(map[string][]int, len(msgs))
	order := make([]string, 0, len(msgs))
	for i := range msgs {
		k := string(msgs[i].Key)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var wg sync.WaitGroup
	for _, k := range order {
		idx := groups[k]
		wg.Add(1)
		p.work <- func() {
			defer wg.Done()
			for _, i := range idx {
				p.sem <- struct{}{}
				out[i] = p.process(ctx, &msgs[i])
				<-p.sem
			}
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	flat := make([]kafka.Message, 0, len(msgs))
	for _, o := range out {
		flat = append(flat, o...)
	}
	if err := p.writer.WriteMessages(ctx, flat...); err != nil {
		p.metrics.ProducerErrors.WithLabelValues(p.cfg.Kafka.ResponseTopic).Add(float64(len(flat)))
		return fmt.Errorf("publish results: %w", err)
	}
	p.metrics.ProducerSent.WithLabelValues(p.cfg.Kafka.ResponseTopic).Add(float64(len(flat)))
	return nil
}

// start starts CONCURRENCY long-lived workers for the groups of the
// batches (handle needs them); stop ends them once no batch is being
// handled (after the consumer stopped). A goroutine per group, as before, started with a small
// stack and grew it while decoding and evaluating: copying stacks was 10 %
// of a server's CPU under W1. A worker keeps its stack.
func (p *pool) start() {
	p.work = make(chan func())
	for range cap(p.sem) {
		p.workers.Add(1)
		go func() {
			defer p.workers.Done()
			for f := range p.work {
				f()
			}
		}()
	}
}

func (p *pool) stop() {
	if p.work != nil {
		close(p.work)
		p.workers.Wait()
	}
}

// deadLetterError is a failure that is not the caller's input: the
// operation FAILS with it and the request is also copied to the dead-letter
// topic with its reason, for an operator to look at.
type deadLetterError struct {
	reason string // a DLQ reason label: unknown_type, retries_exhausted, handler_panic
	err    error
}

func (e *deadLetterError) Error() string { return e.err.Error() }
func (e *deadLetterError) Unwrap() error { return e.err }

// process runs one operation and returns the messages to produce: its
// result, plus a dead letter when it failed for a reason that is not the
// caller's (see deadLetterError); or only a dead letter for a message that
// cannot be decoded (it names no operation to fail; the client's relay
// re-dispatches an operation that never gets a result).
//
// Tracing: the message is processed in a "process application.operation.request"
// CONSUMER span, the child of the client's send span whose context the
// request carries; the handler runs in a child span; the result (and the
// dead letter) carry the process span's context back to the client.
func (p *pool) process(ctx context.Context, m *kafka.Message) []kafka.Message {
	ctx, span := queue.StartProcess(ctx, p.tracing.ActiveTracer(), p.tracing.TextMap(), p.cfg.RequestGroup, m)
	defer span.End()
	req, err := queue.DecodeRequest(m)
	if err != nil {
		p.metrics.ConsumerErrors.WithLabelValues(p.cfg.Kafka.RequestTopic).Inc()
		span.RecordError(err)
		span.SetStatus(codes.Error, "undecodable request")
		p.log.ErrorContext(ctx, "undecodable request dead-lettered", "partition", m.Partition, "offset", m.Offset, "err", err)
		return []kafka.Message{p.deadLetter(ctx, m, "undecodable", err)}
	}
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("jobplane.job_id", req.GetJobId()),
			attribute.String("jobplane.operation_id", req.GetOperationId()),
			attribute.String("jobplane.operation.type", req.GetType()),
			attribute.Int("jobplane.operation.attempt", int(req.GetAttempt())),
		)
	}
	start := time.Now()
	res := &queuev1.OperationResult{
		JobId:       req.GetJobId(),
		OperationId: req.GetOperationId(),
		WorkerNode:  p.cfg.NodeID,
		Attempt:     req.GetAttempt(),
		SubmitTime:  req.GetSubmitTime(),
		StartTime:   timestamppb.New(start),
	}
	out, runErr := p.run(ctx, req)
	end := time.Now()
	res.EndTime = timestamppb.New(end)
	outcome := "succeeded"
	if runErr != nil {
		outcome = "failed"
		res.State = queuev1.ResultState_RESULT_STATE_FAILED
		res.Error = runErr.Error()
	} else {
		res.State = queuev1.ResultState_RESULT_STATE_SUCCEEDED
		res.Result = out
	}
	typ := metricType(p.registry, req.GetType())
	p.metrics.ProcessingSeconds.WithLabelValues(typ, outcome).Observe(end.Sub(start).Seconds())
	if runErr != nil {
		span.SetStatus(codes.Error, "operation failed")
	}
	// Keyed by job id: see OperationResult in proto/jobplane/queue/v1.
	msg, err := queue.EncodeResult(p.cfg.Kafka.ResponseTopic, []byte(req.GetJobId()), res)
	if err != nil { // cannot happen for a well-formed proto; keep the message
		return []kafka.Message{p.deadLetter(ctx, m, "encode_result", err)}
	}
	msg.Headers = append(msg.Headers, kafka.Header{Key: queue.OperationTypeHeader, Value: []byte(typ)})
	queue.Inject(ctx, p.tracing.TextMap(), &msg)
	if dle := (*deadLetterError)(nil); errors.As(runErr, &dle) {
		p.log.WarnContext(ctx, "operation failed and dead-lettered", "operation_id", req.GetOperationId(), "reason", dle.reason, "err", dle.err)
		return []kafka.Message{msg, p.deadLetter(ctx, m, dle.reason, dle.err)}
	}
	return []kafka.Message{msg}
}

// metricType bounds the label values to registered types.
func metricType(r *handler.Registry, typ string) string {
	if _, ok := r.Lookup(typ); ok {
		return typ
	}
	return "unknown"
}

// run executes the handler: permanent errors fail at once, transient ones
// are retried with exponential backoff and jitter up to MaxAttempts, panics
// are failures (never a crash).
func (p *pool) run(ctx context.Context, req *queuev1.OperationRequest) (out string, err error) {
	span := trace.SpanFromContext(ctx) // not recording when tracing is off
	if p.tracing.Enabled() {
		ctx, span = p.tracing.Tracer().Start(ctx, "handle "+req.GetType())
	}
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "handler failed")
		}
		span.End()
	}()
	fn, ok := p.registry.Lookup(req.GetType())
	if !ok {
		return "", &deadLetterError{reason: "unknown_type", err: fmt.Errorf("unknown operation type %q", req.GetType())}
	}
	hreq := handler.Request{
		JobID: req.GetJobId(), OperationID: req.GetOperationId(), Type: req.GetType(),
		Input: req.GetRequest(), Attempt: int(req.GetAttempt()),
	}
	backoff := p.backoffBase
	for attempt := 1; attempt <= p.cfg.MaxAttempts; attempt++ {
		out, err = p.call(ctx, fn, hreq)
		if err == nil {
			return out, nil
		}
		if handler.IsPermanent(err) || ctx.Err() != nil {
			return "", err
		}
		if attempt == p.cfg.MaxAttempts {
			break
		}
		p.log.WarnContext(ctx, "handler failed, retrying", "operation_id", hreq.OperationID, "type", hreq.Type, "attempt", attempt, "err", err)
		span.AddEvent("retry", trace.WithAttributes(attribute.Int("jobplane.handler.attempt", attempt), attribute.String("error", err.Error())))
		wait := backoff/2 + rand.N(backoff/2+1) // #nosec G404 -- jitter, not a secret
		backoff = min(backoff*2, 10*time.Second)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "", &deadLetterError{reason: "retries_exhausted", err: fmt.Errorf("gave up after %d attempts: %w", p.cfg.MaxAttempts, err)}
}

func (p *pool) call(ctx context.Context, fn handler.Func, req handler.Request) (out string, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HandlerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			p.log.ErrorContext(ctx, "handler panicked", "operation_id", req.OperationID, "type", req.Type, "panic", fmt.Sprint(r))
			err = handler.Permanent(&deadLetterError{reason: "handler_panic", err: errors.New("handler panicked")})
		}
	}()
	return fn(ctx, req)
}

// deadLetter wraps a message for the dead-letter topic with headers saying
// why and where from, and the trace context of ctx (the process span).
func (p *pool) deadLetter(ctx context.Context, m *kafka.Message, reason string, err error) kafka.Message {
	p.metrics.DeadLetters.WithLabelValues(reason).Inc()
	headers := append([]kafka.Header{}, m.Headers...)
	headers = append(headers,
		kafka.Header{Key: queue.DLQReasonHeader, Value: []byte(reason)},
		kafka.Header{Key: queue.DLQErrorHeader, Value: []byte(err.Error())},
		kafka.Header{Key: queue.DLQSourceHeader, Value: fmt.Appendf(nil, "%s/%d/%d", m.Topic, m.Partition, m.Offset)},
	)
	dl := kafka.Message{Topic: p.cfg.Kafka.DLQTopic, Key: m.Key, Value: m.Value, Headers: headers}
	queue.Inject(ctx, p.tracing.TextMap(), &dl)
	return dl
}
