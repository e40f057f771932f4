package client

import (
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
		TotalOperations: int32(j.Total),
		OperationCounts: &jobsv1.OperationCounts{
			Pending:   int32(j.Pending()),
			Succeeded: int32(j.Succeeded),
			Failed:    int32(j.Failed),
			Cancelled: int32(j.Cancelled),
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
		Index:        int32(v.Index),
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
