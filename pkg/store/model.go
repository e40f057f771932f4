package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Errors returned by the store. Callers convert them to API errors once, at
// the edge.
var (
	// ErrNotFound means the job or operation does not exist.
	ErrNotFound = errors.New("not found")
	// ErrRequestIDConflict means a request_id was reused with a different request.
	ErrRequestIDConflict = errors.New("request_id already used for a different request")
)

// OpState is the state of an operation as stored.
type OpState string

// Operation states. Every state but OpPending is terminal.
const (
	OpPending   OpState = "pending"
	OpSucceeded OpState = "succeeded"
	OpFailed    OpState = "failed"
	OpCancelled OpState = "cancelled"
)

// JobState is the state of a job, derived from its counts.
type JobState string

// Job states.
const (
	JobPending   JobState = "pending"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Terminal reports whether the job state is final.
func (s JobState) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// Job is a job document (collection `jobs`, `_id` = job id). Counters are
// maintained with $inc by `_id` as results are applied; the state is derived
// from them, so it can never disagree with the counts.
//
// After its insert, a job document has a single writer: the consumer of the
// response-topic partition that the job id hashes to. FerretDB applies an
// update as read-modify-write, so two concurrent writers of one document lose
// updates (measured: 8 goroutines × 50 $inc left 56); a single writer is
// correct there and costs nothing on MongoDB. When a rebalance briefly lets
// two appliers overlap, a lost update can only under-count (every count is
// decided by a unique insert, see ApplyResults); the relay reconciles such a
// job from its stored outcomes.
type Job struct {
	ID           string    `bson:"_id"`
	RequestID    string    `bson:"request_id,omitempty"`
	PartitionKey string    `bson:"partition_key,omitempty"`
	Total        int64     `bson:"total"`
	Succeeded    int64     `bson:"succeeded"`
	Failed       int64     `bson:"failed"`
	Cancelled    int64     `bson:"cancelled"`
	CreateTime   time.Time `bson:"create_time"`
	UpdateTime   time.Time `bson:"update_time"`
	// ListingEntry is the listing entry (listing.go) the job is listed
	// from; nil for jobs stored before the listing index existed.
	ListingEntry *int64 `bson:"listing_entry,omitempty"`
	// OpsPerDoc is how many operations share one document of `operations`
	// (opdocs.go); 0 for jobs stored one document per operation.
	OpsPerDoc int64 `bson:"ops_per_doc,omitempty"`
}

// CompleteTime is when the job reached a terminal state: the time of the
// last counter update, which is the one that completed it.
func (j *Job) CompleteTime() *time.Time {
	if j.Done() < j.Total {
		return nil
	}
	t := j.UpdateTime
	return &t
}

// Done is the number of operations in a terminal state.
func (j *Job) Done() int64 { return j.Succeeded + j.Failed + j.Cancelled }

// Pending is the number of operations not yet terminal.
func (j *Job) Pending() int64 { return max(j.Total-j.Done(), 0) }

// State derives the job state from the counters.
func (j *Job) State() JobState {
	done := j.Done()
	switch {
	case done < j.Total && done == 0:
		return JobPending
	case done < j.Total:
		return JobRunning
	case j.Cancelled > 0: // only CancelJob cancels operations
		return JobCancelled
	case j.Failed > 0:
		return JobFailed
	default:
		return JobSucceeded
	}
}

// Operation is an operation of a job. Jobs store their operations several
// to a document (opdocs.go); jobs stored before that, one per document
// (collection `operations`, `_id` = operation id), in this form. It is
// written once, at submission.
type Operation struct {
	ID           string    `bson:"_id"`
	JobID        string    `bson:"job_id"`
	Index        int64     `bson:"index"`
	Type         string    `bson:"type"`
	Request      string    `bson:"request"`
	PartitionKey string    `bson:"partition_key,omitempty"`
	CreateTime   time.Time `bson:"create_time"`
	// Attempts counts dispatches beyond the first; set by re-publishing.
	Attempts int32 `bson:"attempts,omitempty"`
}

// Result is the terminal outcome of an operation (collection `results`,
// `_id` = operation id). Inserting it is the operation's single transition to
// a terminal state: the unique `_id` makes the first result win and every
// later one (a duplicate delivery, a late result after cancellation) a no-op.
type Result struct {
	ID           string    `bson:"_id"`
	JobID        string    `bson:"job_id"`
	State        OpState   `bson:"state"`
	Result       string    `bson:"result,omitempty"`
	Error        string    `bson:"error,omitempty"`
	WorkerNode   string    `bson:"worker_node,omitempty"`
	Attempt      int32     `bson:"attempt,omitempty"`
	CompleteTime time.Time `bson:"complete_time"`
	// Partition and Offset locate the response-topic message that inserted
	// this outcome; Offset is -1 for a cancellation claim not yet counted.
	Partition int   `bson:"partition"`
	Offset    int64 `bson:"offset"`
}

// OperationView is an operation with its outcome, as the API shows it.
type OperationView struct {
	Operation
	State        OpState
	Result       string
	Error        string
	WorkerNode   string
	Attempt      int32
	CompleteTime *time.Time
}

// NewJobID returns a new time-ordered job id (UUIDv7), so that sorting by
// `_id` sorts by creation time.
func NewJobID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// ValidJobID reports whether id has the canonical UUID form.
func ValidJobID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := uuid.Parse(id)
	return err == nil
}

// OperationID is the id of the operation at index in job.
func OperationID(jobID string, index int64) string {
	return jobID + "-" + strconv.FormatInt(index, 10)
}

// operationIDs returns the ids of the operations [start, start+n) of a job.
func operationIDs(jobID string, start, n int64) []string {
	ids := make([]string, n)
	for i := range n {
		ids[i] = OperationID(jobID, start+i)
	}
	return ids
}

// ParseOperationID splits an operation id into its job id and index.
func ParseOperationID(id string) (jobID string, index int64, err error) {
	if len(id) < 38 || id[36] != '-' {
		return "", 0, fmt.Errorf("operation id %q is not of the form {job_id}-{index}", id)
	}
	jobID, rest := id[:36], id[37:]
	if !ValidJobID(jobID) {
		return "", 0, fmt.Errorf("operation id %q does not start with a job id", id)
	}
	if strings.TrimLeft(rest, "0123456789") != "" || (len(rest) > 1 && rest[0] == '0') || len(rest) > 9 {
		return "", 0, fmt.Errorf("operation id %q has an invalid index", id)
	}
	index, err = strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("operation id %q has an invalid index", id)
	}
	return jobID, index, nil
}
