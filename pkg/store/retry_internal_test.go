package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/embedded"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// A batch retried after its counter update failed must count its outcomes
// once, whether that update landed (a timeout after the write) or not: here
// 2 of 4 operations have outcomes, and counting them twice would finish the
// job.
func TestRetryAfterLandedUpdateDoesNotFinishEarly(t *testing.T) {
	t.Parallel()
	stack := startInternal(t)
	for _, landed := range []bool{true, false} {
		t.Run(fmt.Sprintf("update landed %v", landed), func(t *testing.T) {
			t.Parallel()
			retryAfterFailedUpdate(t, stack, fmt.Sprintf("retry_test_%v", landed), landed)
		})
	}
}

// startInternal starts the engines for the package's internal tests (which
// cannot share store_test's stack); they stop when t ends.
func startInternal(t *testing.T) *embedded.Stack {
	t.Helper()
	stack, err := embedded.Start(t.Context(), embedded.Config{KafkaPorts: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	return stack
}

// openInternal opens a store on database of stack, its collections indexed
// by `_id` as the services' are.
func openInternal(t *testing.T, stack *embedded.Stack, database string) *Store {
	t.Helper()
	if err := stack.IndexIDs(t.Context(), database, Collections); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), Config{URI: stack.MongoURI(), Database: database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func retryAfterFailedUpdate(t *testing.T, stack *embedded.Stack, database string, landed bool) {
	ctx := t.Context()
	s := openInternal(t, stack, database)

	j, _, _, err := s.CreateJob(ctx, NewJob{Operations: []OpInput{{Type: "expr", Request: "1"}, {Type: "expr", Request: "2"}, {Type: "expr", Request: "3"}, {Type: "expr", Request: "4"}}})
	if err != nil {
		t.Fatal(err)
	}
	var batch []Result
	for i := range int64(2) {
		batch = append(batch, Result{ID: OperationID(j.ID, i), JobID: j.ID, State: OpSucceeded, Result: fmt.Sprint(i),
			CompleteTime: time.Now().UTC(), Partition: 0, Offset: i})
	}
	// The first call: it won the two inserts and its $inc landed, but it
	// returned an error, so its outcomes were handed back for the retry.
	docs := []any{&batch[0], &batch[1]}
	if _, err := s.insertNew(ctx, s.results, docs); err != nil {
		t.Fatal(err)
	}
	for _, r := range batch {
		s.uncounted.put(r.ID, r.State)
	}
	if landed {
		if _, err := s.active.UpdateOne(ctx, byID(j.ID), bson.D{{Key: "$inc", Value: bson.D{{Key: "succeeded", Value: 2}}}}); err != nil {
			t.Fatal(err)
		}
	}
	s.uncounted.release([]string{batch[0].ID, batch[1].ID})

	if _, err := s.ApplyResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Succeeded != 2 || got.Done() != 2 || got.State() != JobRunning {
		t.Fatalf("after the retry: %+v (state %s), want 2 of 4 succeeded and running", got, got.State())
	}
}

// TestDeletedJobStaysDeleted: an applier call holding a job as it was
// before this process deleted it (here: its document put back into
// jobs_active, as a read from before the deletion would have it) drops the
// job's late outcomes as orphans instead of archiving the job again, which
// would bring it back to readers until its retirement.
func TestDeletedJobStaysDeleted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openInternal(t, startInternal(t), "deleted_test")
	s.DeferRetire(func(context.Context, *Job) {}) // the retirer has not run yet

	j, _, _, err := s.CreateJob(ctx, NewJob{Operations: []OpInput{{Type: "expr", Request: "1"}, {Type: "expr", Request: "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.active.InsertOne(ctx, j); err != nil {
		t.Fatal(err)
	}
	var batch []Result
	for i := range int64(2) {
		batch = append(batch, Result{ID: OperationID(j.ID, i), JobID: j.ID, State: OpSucceeded, Result: fmt.Sprint(i),
			CompleteTime: time.Now().UTC(), Offset: i})
	}
	st, err := s.ApplyResults(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if st.Orphans != 2 || len(st.Completed) != 0 {
		t.Errorf("stats %+v, want 2 orphans and no completed job", st)
	}
	if n, err := s.jobs.CountDocuments(ctx, bson.D{{Key: "_id", Value: j.ID}}); err != nil || n != 0 {
		t.Errorf("the deleted job was archived again (%d, %v)", n, err)
	}
	if n, err := s.results.CountDocuments(ctx, bson.D{{Key: "job_id", Value: j.ID}}); err != nil || n != 0 {
		t.Errorf("%d outcomes of the deleted job kept (%v)", n, err)
	}
}
