package client

import (
	"math"
	"time"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/store"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var jobStates = map[store.JobState]jobsv1.JobState{
	store.JobPending:   jobsv1.JobState_JOB_STATE_PENDING,
	store.JobRunning:   jobsv1.JobState_JOB_STATE_RUNNING,
	store.JobSucceeded: jobsv1.JobState_JOB_STATE_SUCCEEDED,
	store.JobFailed:    jobsv1.JobState_JOB_STATE_FAILED,
	store.JobCancelled: jobsv1.JobState_JOB_STATE_CANCELLED,
}

var opStates = map[store.OpState]jobsv1.OperationState{
	store.OpPending:   jobsv1.OperationState_OPERATION_STATE_PENDING,
	store.OpSucceeded: jobsv1.OperationState_OPERATION_STATE_SUCCEEDED,
	store.OpFailed:    jobsv1.OperationState_OPERATION_STATE_FAILED,
	store.OpCancelled: jobsv1.OperationState_OPERATION_STATE_CANCELLED,
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func jobToProto(j *store.Job) *jobsv1.Job {
	return &jobsv1.Job{
		Id:              j.ID,
		State:           jobStates[j.State()],
		RequestId:       j.RequestID,
		PartitionKey:    j.PartitionKey,
		TotalOperations: count32(j.Total),
		OperationCounts: &jobsv1.OperationCounts{
			Pending:   count32(j.Pending()),
			Succeeded: count32(j.Succeeded),
			Failed:    count32(j.Failed),
			Cancelled: count32(j.Cancelled),
		},
		CreateTime:   ts(j.CreateTime),
		UpdateTime:   ts(j.UpdateTime),
		CompleteTime: tsp(j.CompleteTime()),
	}
}

func opToProto(v *store.OperationView) *jobsv1.Operation {
	attempts := v.Attempt
	if attempts == 0 {
		attempts = 1 + v.Attempts
	}
	return &jobsv1.Operation{
		Id:           v.ID,
		JobId:        v.JobID,
		Index:        count32(v.Index),
		Type:         v.Type,
		Request:      v.Request,
		State:        opStates[v.State],
		Result:       v.Result,
		Error:        v.Error,
		Attempts:     attempts,
		WorkerNode:   v.WorkerNode,
		CreateTime:   ts(v.CreateTime),
		CompleteTime: tsp(v.CompleteTime),
	}
}

// count32 converts a count for the API's int32 fields (chosen so REST JSON
// shows numbers), saturating instead of wrapping; MAX_OPERATIONS_PER_JOB
// keeps real counts far below the limit.
func count32(v int64) int32 {
	switch {
	case v > math.MaxInt32:
		return math.MaxInt32
	case v < math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}
