package client

import (
	"context"
	"log/slog"
	"time"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
)

// applier applies operation results from the response topic to MongoDB.
type applier struct {
	store   *store.Store
	topic   string
	metrics *telemetry.Metrics
	log     *slog.Logger
}

// handle is the consumer's batch handler: it decodes the batch and applies
// it with one store call (InsertMany + one counter update per job). An
// undecodable message is counted and skipped: it carries no usable
// operation id, and the relay re-dispatches any operation left without a
// result.
func (a *applier) handle(ctx context.Context, _ int, msgs []kafka.Message) error {
	a.metrics.ConsumerReceived.WithLabelValues(a.topic).Add(float64(len(msgs)))
	batch := make([]store.Result, 0, len(msgs))
	submits := make(map[string]time.Time, len(msgs))
	for i := range msgs {
		res, err := queue.DecodeResult(&msgs[i])
		if err != nil {
			a.metrics.ConsumerErrors.WithLabelValues(a.topic).Inc()
			a.log.Error("undecodable result skipped", "partition", msgs[i].Partition, "offset", msgs[i].Offset, "err", err)
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
		if res.GetSubmitTime() != nil {
			submits[r.ID] = res.GetSubmitTime().AsTime()
		}
		batch = append(batch, r)
	}
	st, err := a.store.ApplyResults(ctx, batch)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, r := range batch {
		if t, ok := submits[r.ID]; ok {
			a.metrics.ResultLatencySeconds.WithLabelValues(string(r.State)).Observe(now.Sub(t).Seconds())
		}
	}
	a.metrics.DuplicateResults.Add(float64(st.Duplicates + st.Orphans))
	for state, n := range st.ByState {
		a.metrics.OperationsFinished.WithLabelValues(string(state)).Add(float64(n))
	}
	for _, j := range st.Completed {
		a.log.Info("job completed", "job_id", j.ID, "state", string(j.State()), "operations", j.Total)
	}
	return nil
}
