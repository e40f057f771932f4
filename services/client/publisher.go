package client

import (
	"context"
	"fmt"
	"log/slog"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/partition"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/codes"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// publishChunk bounds the messages of one WriteMessages call.
const publishChunk = 1000

// publisher writes operations to the request topic through the shared writer.
type publisher struct {
	writer        *kafka.Writer
	topic         string
	responseTopic string
	store         *store.Store
	metrics       *telemetry.Metrics
	log           *slog.Logger
	// tracing traces each WriteMessages call as a "send <topic>" PRODUCER
	// span whose context every message carries; nil: off.
	tracing *telemetry.Tracing
}

// messageKey is the partition key of an operation: the job's partition key
// when set (one partition, in order), else the operation id (spread).
func messageKey(op *store.Operation) []byte {
	if op.PartitionKey != "" {
		return []byte(op.PartitionKey)
	}
	return []byte(op.ID)
}

// localJobMax is the size up to which a job without a partition key has all
// its operations routed to one partition (partition.RouteHeader = job id),
// while they keep their own keys and so still run concurrently on the
// server. Their results then come back close together, in one batch of the
// applier more often than not, which then updates the job's counters once
// instead of once per result batch; that update is the applier's most
// expensive write on FerretDB (a read-modify-write, about 1 ms). Larger
// jobs are spread over the partitions by operation id, for parallelism
// across servers.
const localJobMax = 64

// route returns the partition.RouteHeader value for the operations of job,
// or nil to partition them by their key.
func route(job *store.Job) []byte {
	if job.PartitionKey != "" || job.Total > localJobMax {
		return nil
	}
	return []byte(job.ID)
}

// publishOperations writes the operations of job to the request topic
// (acks=all) as dispatch number attempt (1 = the first, by CreateJob).
func (p *publisher) publishOperations(ctx context.Context, job *store.Job, ops []store.Operation, attempt int32) error {
	submit := timestamppb.New(job.CreateTime)
	routeTo := route(job)
	msgs := make([]kafka.Message, 0, min(len(ops), publishChunk))
	for start := 0; start < len(ops); start += publishChunk {
		msgs = msgs[:0]
		for i := start; i < min(start+publishChunk, len(ops)); i++ {
			op := &ops[i]
			m, err := queue.EncodeRequest(p.topic, messageKey(op), &queuev1.OperationRequest{
				JobId:        op.JobID,
				OperationId:  op.ID,
				Type:         op.Type,
				Request:      op.Request,
				Attempt:      attempt,
				PartitionKey: op.PartitionKey,
				SubmitTime:   submit,
			})
			if err != nil {
				return err
			}
			if routeTo != nil {
				m.Headers = append(m.Headers, kafka.Header{Key: partition.RouteHeader, Value: routeTo})
			}
			msgs = append(msgs, m)
		}
		if err := p.write(ctx, p.topic, msgs); err != nil {
			return fmt.Errorf("publish operations: %w", err)
		}
	}
	return nil
}

// publishClaims sends one result message per outcome that the client
// service stored itself (a cancellation, or a failure decided by the relay)
// to the response topic, keyed by the job id like every result, so that the
// job's single counter writer counts it.
func (p *publisher) publishClaims(ctx context.Context, jobID string, claims []store.Result) error {
	for start := 0; start < len(claims); start += publishChunk {
		chunk := claims[start:min(start+publishChunk, len(claims))]
		msgs := make([]kafka.Message, 0, len(chunk))
		for i := range chunk {
			c := &chunk[i]
			state := queuev1.ResultState_RESULT_STATE_FAILED
			if c.State == store.OpCancelled {
				state = queuev1.ResultState_RESULT_STATE_CANCELLED
			}
			m, err := queue.EncodeResult(p.responseTopic, []byte(jobID), &queuev1.OperationResult{
				JobId: jobID, OperationId: c.ID, State: state, Error: c.Error,
				WorkerNode: c.WorkerNode, Attempt: c.Attempt, EndTime: timestamppb.New(c.CompleteTime),
			})
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		if err := p.write(ctx, p.responseTopic, msgs); err != nil {
			return fmt.Errorf("publish outcomes: %w", err)
		}
	}
	return nil
}

// write produces msgs and counts them. The send span is a child of the
// caller's (CreateJob's gRPC span, CancelJob's, or none for the relay) and
// each message carries its context to the consumer's process span.
func (p *publisher) write(ctx context.Context, topic string, msgs []kafka.Message) error {
	ctx, span := queue.StartSend(ctx, p.tracing.ActiveTracer(), p.tracing.TextMap(), topic, msgs)
	defer span.End()
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		p.metrics.ProducerErrors.WithLabelValues(topic).Add(float64(len(msgs)))
		span.RecordError(err)
		span.SetStatus(codes.Error, "produce failed")
		return err
	}
	p.metrics.ProducerSent.WithLabelValues(topic).Add(float64(len(msgs)))
	return nil
}
