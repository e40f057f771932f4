package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/embedded"
	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var (
	mongoURI string
	stack    *embedded.Stack
	dbSeq    atomic.Int64
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	stack, err = embedded.Start(ctx, embedded.Config{KafkaPorts: []int{0}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded stack:", err)
		os.Exit(1)
	}
	mongoURI = stack.MongoURI()
	code := m.Run()
	stack.Close()
	os.Exit(code)
}

type bundle struct {
	client *mongo.Client
	db     *mongo.Database
}

// setup returns a store on a database of its own (for tests and
// benchmarks).
func setup(t testing.TB) (*store.Store, *bundle) {
	t.Helper()
	return setupWith(t, store.Config{})
}

// setupWith is setup with cfg (its URI and Database are set here).
func setupWith(t testing.TB, cfg store.Config) (*store.Store, *bundle) {
	t.Helper()
	ctx := t.Context()
	name := fmt.Sprintf("store_test_%d", dbSeq.Add(1))
	if err := stack.IndexIDs(ctx, name, store.Collections); err != nil {
		t.Fatal(err)
	}
	cfg.URI, cfg.Database = mongoURI, name
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = client.Database(name).Drop(ctx)
		_ = client.Disconnect(ctx)
		_ = s.Close(ctx)
	})
	return s, &bundle{client: client, db: client.Database(name)}
}

// numberedJob is a job of n operations whose requests are their indexes
// (see numbered).
func numberedJob(n int) store.NewJob {
	reqs := make([]string, n)
	for i := range reqs {
		reqs[i] = numbered(int64(i))
	}
	return newJob(reqs...)
}

// numbered is the request of operation i of a numberedJob.
func numbered(i int64) string { return strconv.FormatInt(i, 10) }

// checkNothingLeft checks that colls hold no document but listing entries
// (in operations, without a job_id: they stay, see listingID).
func checkNothingLeft(t *testing.T, b *bundle, colls ...string) {
	t.Helper()
	notListing := bson.D{{Key: "_id", Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$regex", Value: "^listing-"}}}}}}
	for _, coll := range colls {
		if n, err := b.db.Collection(coll).CountDocuments(t.Context(), notListing); err != nil || n != 0 {
			t.Errorf("%s left: %d (%v)", coll, n, err)
		}
	}
}

func newJob(reqs ...string) store.NewJob {
	n := store.NewJob{}
	for _, r := range reqs {
		n.Operations = append(n.Operations, store.OpInput{Type: "expr", Request: r})
	}
	return n
}

// offsets simulates the offsets of one response-topic partition.
var offsets atomic.Int64

// result is the next message of partition 0 carrying an outcome.
func result(opID string, state store.OpState, value string) store.Result {
	return resultAt(opID, state, value, offsets.Add(1))
}

func resultAt(opID string, state store.OpState, value string, offset int64) store.Result {
	jobID, _, _ := store.ParseOperationID(opID)
	return store.Result{ID: opID, JobID: jobID, State: state, Result: value, CompleteTime: time.Now().UTC(), Partition: 0, Offset: offset}
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, ops, created, err := s.CreateJob(ctx, newJob("69", "1 + 2"))
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	if len(ops) != 2 || ops[1].ID != store.OperationID(j.ID, 1) {
		t.Fatalf("ops = %+v", ops)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 2 || got.State() != store.JobPending || got.Pending() != 2 {
		t.Fatalf("job = %+v state %s", got, got.State())
	}
	// Both operations share one document (opdocs.go).
	n, err := b.db.Collection("operations").CountDocuments(ctx, bson.D{{Key: "job_id", Value: j.ID}})
	if err != nil || n != 1 {
		t.Fatalf("operation documents stored = %d, %v", n, err)
	}
	if _, err := s.GetJob(ctx, store.NewJobID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing job: %v", err)
	}
}

func TestCreateIdempotentByRequestID(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	n := newJob("1", "2")
	n.RequestID = "req-1"
	first, _, created, err := s.CreateJob(ctx, n)
	if err != nil || !created {
		t.Fatalf("first: %v %v", err, created)
	}
	again, ops, created, err := s.CreateJob(ctx, n)
	if err != nil || created || again.ID != first.ID || ops != nil {
		t.Fatalf("repeat: %v created=%v id=%s want %s", err, created, again.ID, first.ID)
	}
	other := newJob("1", "3")
	other.RequestID = "req-1"
	if _, _, _, err := s.CreateJob(ctx, other); !errors.Is(err, store.ErrRequestIDConflict) {
		t.Fatalf("different content: %v", err)
	}
	jobs, _ := b.db.Collection("jobs_active").CountDocuments(ctx, bson.D{})
	if jobs != 1 {
		t.Fatalf("jobs stored = %d, want 1", jobs)
	}

	// A first attempt that died after claiming the request_id (before its
	// job document) is completed by the retry under the same job id.
	if _, err := b.db.Collection("requests").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "req-2"}, {Key: "job_id", Value: "0190f8a2-0000-7000-8000-000000000001"},
		{Key: "fingerprint", Value: "will-not-match"},
	}); err != nil {
		t.Fatal(err)
	}
	n2 := newJob("5")
	n2.RequestID = "req-2"
	if _, _, _, err := s.CreateJob(ctx, n2); !errors.Is(err, store.ErrRequestIDConflict) {
		t.Fatalf("stale claim with other content: %v", err)
	}
}

func TestCreateAdoptsInterruptedRequest(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	n := newJob("7")
	n.RequestID = "req-adopt"
	// Make a claim exactly as CreateJob does, then "crash".
	j, _, _, err := s.CreateJob(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Collection("jobs_active").DeleteOne(ctx, bson.D{{Key: "_id", Value: j.ID}}); err != nil {
		t.Fatal(err)
	}
	again, _, created, err := s.CreateJob(ctx, n)
	if err != nil || !created || again.ID != j.ID {
		t.Fatalf("retry: %v created=%v id=%s want %s", err, created, again.ID, j.ID)
	}
}

func TestApplyResultsIdempotent(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, ops, _, err := s.CreateJob(ctx, newJob("1", "2", "x"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.ApplyResults(ctx, []store.Result{
		result(ops[0].ID, store.OpSucceeded, "1"),
		result(ops[0].ID, store.OpSucceeded, "1"), // duplicate in one batch
		result(ops[2].ID, store.OpFailed, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied() != 2 {
		t.Fatalf("applied = %d, want 2", st.Applied())
	}
	// Redelivery of the same results, and a different late outcome.
	st, err = s.ApplyResults(ctx, []store.Result{
		result(ops[0].ID, store.OpFailed, ""),
		result(ops[2].ID, store.OpFailed, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied() != 0 || st.Duplicates != 2 {
		t.Fatalf("redelivery stats = %+v", st)
	}
	got, _ := s.GetJob(ctx, j.ID)
	if got.Succeeded != 1 || got.Failed != 1 || got.State() != store.JobRunning {
		t.Fatalf("job = %+v", got)
	}
	v, err := s.GetOperation(ctx, j.ID, ops[0].ID)
	if err != nil || v.State != store.OpSucceeded || v.Result != "1" {
		t.Fatalf("op0 = %+v %v", v, err)
	}

	// A crash after the insert and before the counter update: the result
	// document exists, and its redelivered message is a duplicate (an
	// applier that overlaps another during a rebalance must not count it a
	// second time), so the job stays under-counted...
	crashed := resultAt(ops[1].ID, store.OpSucceeded, "2", offsets.Add(1000))
	if _, err := b.db.Collection("results").InsertOne(ctx, crashed); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		st, err = s.ApplyResults(ctx, []store.Result{crashed})
		if err != nil || st.Applied() != 0 || st.Duplicates != 1 {
			t.Fatalf("replay after crash: %+v %v", st, err)
		}
	}
	got, _ = s.GetJob(ctx, j.ID)
	if got.Succeeded != 1 || got.Failed != 1 {
		t.Fatalf("job after the replays = %+v", got)
	}
	// ... until the relay reconciles it from its stored outcomes.
	u, err := s.UndoneOperations(ctx, got)
	if err != nil || len(u.Missing) != 0 || u.Succeeded != 2 || u.Failed != 1 {
		t.Fatalf("undone = %+v %v", u, err)
	}
	if changed, err := s.Reconcile(ctx, got, u); err != nil || !changed {
		t.Fatalf("reconcile: %v %v", changed, err)
	}
	got, _ = s.GetJob(ctx, j.ID)
	if got.Succeeded != 2 || got.Failed != 1 || got.State() != store.JobFailed || got.CompleteTime() == nil {
		t.Fatalf("final job = %+v state %s", got, got.State())
	}
	// The finished job left the small jobs_active collection for jobs.
	if n, _ := b.db.Collection("jobs_active").CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("jobs_active still holds %d jobs", n)
	}
	if n, _ := b.db.Collection("jobs").CountDocuments(ctx, bson.D{}); n != 1 {
		t.Fatalf("jobs holds %d jobs, want 1", n)
	}
	// A result arriving after completion changes nothing.
	st, err = s.ApplyResults(ctx, []store.Result{result(ops[2].ID, store.OpSucceeded, "x")})
	if err != nil || st.Applied() != 0 {
		t.Fatalf("after completion: %+v %v", st, err)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	j, ops, _, _ := s.CreateJob(ctx, newJob("1", "2", "3"))
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1")}); err != nil {
		t.Fatal(err)
	}
	_, cancelled, err := s.ClaimCancelled(ctx, j.ID)
	if err != nil || len(cancelled) != 2 || cancelled[1].ID != ops[1].ID || cancelled[0].State != store.OpCancelled || cancelled[0].Offset != -1 {
		t.Fatalf("claim: %v %v", cancelled, err)
	}
	// The operations are cancelled at once; the counters follow when the
	// cancellations are applied by the job's single writer.
	v, _ := s.GetOperation(ctx, j.ID, ops[1].ID)
	if v.State != store.OpCancelled {
		t.Fatalf("op1 state = %s", v.State)
	}
	// A late result racing the cancellation loses.
	st, err := s.ApplyResults(ctx, []store.Result{result(ops[1].ID, store.OpSucceeded, "2")})
	if err != nil || st.Applied() != 1 || st.ByState[store.OpCancelled] != 1 {
		t.Fatalf("late result: %+v %v", st, err)
	}
	st, err = s.ApplyResults(ctx, []store.Result{result(ops[1].ID, store.OpCancelled, ""), result(ops[2].ID, store.OpCancelled, "")})
	if err != nil || st.Applied() != 1 || st.Duplicates != 1 {
		t.Fatalf("cancellations: %+v %v", st, err)
	}
	got, _ := s.GetJob(ctx, j.ID)
	if got.State() != store.JobCancelled || got.Succeeded != 1 || got.Cancelled != 2 {
		t.Fatalf("cancelled job = %+v", got)
	}
	_, again, err := s.ClaimCancelled(ctx, j.ID)
	if err != nil || len(again) != 0 {
		t.Fatalf("second cancel: %v %v", again, err)
	}
	if _, _, err := s.ClaimCancelled(ctx, store.NewJobID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel missing: %v", err)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	n := newJob("1", "2")
	n.RequestID = "del"
	j, ops, _, _ := s.CreateJob(ctx, n)
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetJob(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := s.DeleteJob(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	st, err := s.ApplyResults(ctx, []store.Result{result(ops[1].ID, store.OpSucceeded, "2")})
	if err != nil || st.Orphans != 1 {
		t.Fatalf("late result for deleted job: %+v %v", st, err)
	}
	checkNothingLeft(t, b, "jobs", "jobs_active", "operations", "results", "requests", "outbox", "adoptions")
	// The request_id can be used again.
	if _, _, created, err := s.CreateJob(ctx, n); err != nil || !created {
		t.Fatalf("reuse request_id: %v %v", err, created)
	}
}

// finishedJob creates job n of one operation, applies its result and
// returns the finished job as read then (what an archiving step holds) and
// its operations.
func finishedJob(t *testing.T, s *store.Store, n store.NewJob) (*store.Job, []store.Operation) {
	t.Helper()
	ctx := t.Context()
	j, ops, _, err := s.CreateJob(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1")}); err != nil {
		t.Fatal(err)
	}
	stale, err := s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatalf("finished job: %v", err)
	}
	return stale, ops
}

// A job deleted through this store stays deleted for its readers while an
// archive insert that read it before the deletion has brought it back into
// `jobs` and its retirement has not yet found the tombstone (the window the
// e2e UI test hit: DELETE answered, then GET found the job).
func TestDeletedJobHiddenUntilBuried(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, ops := finishedJob(t, s, newJob("1"))
	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Collection("jobs").InsertOne(ctx, j); err != nil { // the late archive
		t.Fatal(err)
	}
	if got, err := s.GetJob(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJob of the deleted job = %+v, %v; want ErrNotFound", got, err)
	}
	if _, err := s.GetOperation(ctx, j.ID, ops[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOperation of the deleted job: %v; want ErrNotFound", err)
	}
	listed, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 10})
	if err != nil || len(listed) != 0 {
		t.Errorf("ListJobs = %v, %v; want nothing", jobIDs(listed), err)
	}
	// Another job is not hidden.
	other, _, _, err := s.CreateJob(ctx, newJob("2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetJob(ctx, other.ID); err != nil {
		t.Errorf("GetJob of another job: %v", err)
	}
}

// A create retried with the request_id of a job being deleted through this
// store (its claim not yet removed, a late archive has the job back) must
// not resume that job under its tombstoned id, which would acknowledge a job
// whose results are then dropped.
func TestRetryOfADeletedJobsRequest(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	n := newJob("1")
	n.RequestID = "req-deleted"
	stale, _ := finishedJob(t, s, n)
	var claim bson.Raw
	if err := b.db.Collection("requests").FindOne(ctx, bson.D{{Key: "_id", Value: n.RequestID}}).Decode(&claim); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, stale.ID); err != nil {
		t.Fatal(err)
	}
	// The moment within a deletion: the claim still there, the job back.
	if _, err := b.db.Collection("requests").InsertOne(ctx, claim); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Collection("jobs").InsertOne(ctx, stale); err != nil {
		t.Fatal(err)
	}
	got, _, created, err := s.CreateJob(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Errorf("the retry created job %s again under its tombstoned id", got.ID)
	}
}

// TestDeleteWhileArchiving: an applier (or the relay) that read a finished
// job just before DeleteJob must not archive it back afterwards (the web
// UI's delete of a just-cancelled job raced late results this way).
func TestDeleteWhileArchiving(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	stale, _ := finishedJob(t, s, newJob("1"))
	if stale.Done() != 1 {
		t.Fatalf("finished job: %+v", stale)
	}
	if err := s.DeleteJob(ctx, stale.ID); err != nil {
		t.Fatal(err)
	}
	// The archiving step with what it read before the deletion.
	if finished, err := s.FinishIfDone(ctx, stale); err != nil || !finished {
		t.Fatalf("finish stale: %v %v", finished, err)
	}
	if _, err := s.GetJob(ctx, stale.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted job archived back: %v", err)
	}
	for _, coll := range []string{"jobs", "jobs_active"} {
		if n, _ := b.db.Collection(coll).CountDocuments(ctx, bson.D{}); n != 0 {
			t.Errorf("%s left: %d", coll, n)
		}
	}
	// A finisher killed between its insert and its tombstone check left the
	// job in `jobs`: a retry (a duplicate insert) still removes it...
	archived := b.db.Collection("jobs")
	if _, err := archived.InsertOne(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishIfDone(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetJob(ctx, stale.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted job kept by a retried archive: %v", err)
	}
	// ... and so does the purge of its tombstone, without any retry.
	if _, err := archived.InsertOne(ctx, stale); err != nil {
		t.Fatal(err)
	}
	// Tombstones are kept for DeletionRetention only.
	if n, err := s.PurgeDeletions(ctx); err != nil || n != 0 {
		t.Fatalf("purge of a fresh tombstone: %d %v", n, err)
	}
	if _, err := b.db.Collection("deletions").UpdateOne(ctx, bson.D{{Key: "_id", Value: stale.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "time", Value: time.Now().Add(-store.DeletionRetention - time.Minute)}}}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("purge of an old tombstone: %d %v", n, err)
	}
	if _, err := s.GetJob(ctx, stale.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted job kept after its tombstone's purge: %v", err)
	}
	if n, _ := b.db.Collection("deletions").CountDocuments(ctx, bson.D{}); n != 0 {
		t.Errorf("tombstones left after purge: %d", n)
	}
}

// TestFinishIfDoneRecountsOverCount: a job whose counters went past its
// total (an applier's $inc landing after a reconciliation) is archived with
// its stored outcomes, not its counters.
func TestFinishIfDoneRecountsOverCount(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, ops, _, err := s.CreateJob(ctx, newJob("1", "2", "3"))
	if err != nil {
		t.Fatal(err)
	}
	// Outcomes 1 and 2 stored but not counted; the counters say 5 of 3.
	for _, op := range ops[1:] {
		if _, err := b.db.Collection("results").InsertOne(ctx, result(op.ID, store.OpSucceeded, "x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.db.Collection("jobs_active").UpdateOne(ctx, bson.D{{Key: "_id", Value: j.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "succeeded", Value: 5}}}}); err != nil {
		t.Fatal(err)
	}
	over, err := s.GetJob(ctx, j.ID)
	if err != nil || over.Done() != 5 {
		t.Fatalf("over-counted job: %+v %v", over, err)
	}
	// Not every outcome stored yet: corrected, not archived.
	if finished, err := s.FinishIfDone(ctx, over); err != nil || finished {
		t.Fatalf("finish with an outcome missing: %v %v", finished, err)
	}
	if got, _ := s.GetJob(ctx, j.ID); got.Done() != 2 || got.State().Terminal() {
		t.Fatalf("after the recount: %+v", got)
	}
	if _, err := b.db.Collection("results").InsertOne(ctx, result(ops[0].ID, store.OpFailed, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Collection("jobs_active").UpdateOne(ctx, bson.D{{Key: "_id", Value: j.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "succeeded", Value: 7}}}}); err != nil {
		t.Fatal(err)
	}
	over, _ = s.GetJob(ctx, j.ID)
	if finished, err := s.FinishIfDone(ctx, over); err != nil || !finished {
		t.Fatalf("finish: %v %v", finished, err)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil || got.Succeeded != 2 || got.Failed != 1 || got.Done() != 3 || got.State() != store.JobFailed {
		t.Fatalf("archived: %+v %v", got, err)
	}
}

func TestListOperations(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	j, ops, _, _ := s.CreateJob(ctx, numberedJob(45))
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[44].ID, store.OpFailed, "")}); err != nil {
		t.Fatal(err)
	}
	page, next, err := s.ListOperations(ctx, store.ListOperationsParams{JobID: j.ID, Limit: 30})
	if err != nil || len(page) != 30 || next != 30 || page[29].Index != 29 {
		t.Fatalf("page 1: %d next=%d %v", len(page), next, err)
	}
	page, next, err = s.ListOperations(ctx, store.ListOperationsParams{JobID: j.ID, Start: next, Limit: 30})
	if err != nil || len(page) != 15 || next != -1 || page[14].State != store.OpFailed {
		t.Fatalf("page 2: %d next=%d %v", len(page), next, err)
	}
	failed, _, err := s.ListOperations(ctx, store.ListOperationsParams{JobID: j.ID, Start: 0, Limit: 10, States: []store.OpState{store.OpFailed}})
	if err != nil || len(failed) != 1 || failed[0].Index != 44 {
		t.Fatalf("failed filter: %+v %v", failed, err)
	}
	other, _, _, _ := s.CreateJob(ctx, newJob("1"))
	if _, err := s.GetOperation(ctx, other.ID, ops[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("operation of another job: %v", err)
	}
	if _, err := s.GetOperation(ctx, j.ID, store.OperationID(j.ID, 45)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("index out of range: %v", err)
	}
}

func TestParseOperationID(t *testing.T) {
	t.Parallel()
	job := "0190f8a2-1234-7abc-8def-0123456789ab"
	tests := []struct {
		in    string
		index int64
		ok    bool
	}{
		{job + "-0", 0, true},
		{job + "-12345", 12345, true},
		{job + "-", 0, false},
		{job + "-01", 0, false},
		{job + "--1", 0, false},
		{job + "-1x", 0, false},
		{job + "-1234567890", 0, false},
		{"nope", 0, false},
		{strings.Repeat("z", 36) + "-1", 0, false},
	}
	for _, tt := range tests {
		gotJob, idx, err := store.ParseOperationID(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (idx != tt.index || gotJob != job)) {
			t.Errorf("ParseOperationID(%q) = %q, %d, %v", tt.in, gotJob, idx, err)
		}
	}
}

// A DeleteJob that stopped after writing its tombstone left the job whole,
// and the job finished normally afterwards: the purge of the tombstone
// removes the job with its operations, outcomes and request_id claim.
func TestPurgeFinishesHalfDoneDeletion(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	n := newJob("1", "2")
	n.RequestID = "half-deleted"
	j, ops, _, err := s.CreateJob(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Collection("deletions").InsertOne(ctx, bson.D{{Key: "_id", Value: j.ID},
		{Key: "time", Value: time.Now().Add(-store.DeletionRetention - time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1"), result(ops[1].ID, store.OpSucceeded, "2")}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	checkNothingLeft(t, b, "jobs", "jobs_active", "operations", "results", "requests", "outbox", "adoptions", "deletions")
}

// A job with more outcomes than SQLite binds variables in one statement
// (32,766) is deleted whole: FerretDB deletes a DeleteMany's matches with one
// statement, so deleteDocs deletes them in parts.
func TestDeleteJobOfManyOutcomes(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	reqs := make([]string, 33_000)
	for i := range reqs {
		reqs[i] = "1"
	}
	j, _, _, err := s.CreateJob(ctx, newJob(reqs...))
	if err != nil {
		t.Fatal(err)
	}
	// The outcomes straight into results (as the applier stores them, but
	// without counting: the test is about the delete).
	docs := make([]any, 0, 1000)
	for i := range j.Total {
		docs = append(docs, result(store.OperationID(j.ID, i), store.OpSucceeded, "1"))
		if len(docs) == cap(docs) || i == j.Total-1 {
			if _, err := b.db.Collection("results").InsertMany(ctx, docs); err != nil {
				t.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, b, "jobs", "jobs_active", "operations", "results", "outbox", "adoptions")
}
