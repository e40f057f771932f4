package client

import (
	"context"
	"fmt"
	"log/slog"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
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
}

// messageKey is the partition key of an operation: the job's partition key
// when set (one partition, in order), else the operation id (spread).
func messageKey(op *store.Operation) []byte {
	if op.PartitionKey != "" {
		return []byte(op.PartitionKey)
	}
	return []byte(op.ID)
}

// publishJob writes the operations to Kafka (acks=all) and then marks the
// job published.
func (p *publisher) publishJob(ctx context.Context, job *store.Job, ops []store.Operation, attempt int32) error {
	submit := timestamppb.New(job.CreateTime)
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
				Attempt:      attempt + op.Attempts,
				PartitionKey: op.PartitionKey,
				SubmitTime:   submit,
			})
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
			p.metrics.ProducerErrors.WithLabelValues(p.topic).Add(float64(len(msgs)))
			return fmt.Errorf("publish operations: %w", err)
		}
		p.metrics.ProducerSent.WithLabelValues(p.topic).Add(float64(len(msgs)))
	}
	return p.store.MarkPublished(ctx, job.ID)
}

// publishCancellations sends a CANCELLED result per cancelled operation to
// the response topic, keyed by the job id like every result.
func (p *publisher) publishCancellations(ctx context.Context, jobID string, opIDs []string) error {
	now := timestamppb.Now()
	for start := 0; start < len(opIDs); start += publishChunk {
		msgs := make([]kafka.Message, 0, min(len(opIDs)-start, publishChunk))
		for _, id := range opIDs[start:min(start+publishChunk, len(opIDs))] {
			m, err := queue.EncodeResult(p.responseTopic, []byte(jobID), &queuev1.OperationResult{
				JobId: jobID, OperationId: id, State: queuev1.ResultState_RESULT_STATE_CANCELLED,
				Error: "cancelled by request", EndTime: now,
			})
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
			p.metrics.ProducerErrors.WithLabelValues(p.responseTopic).Add(float64(len(msgs)))
			return err
		}
		p.metrics.ProducerSent.WithLabelValues(p.responseTopic).Add(float64(len(msgs)))
	}
	return nil
}
