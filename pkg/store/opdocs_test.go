package store_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// checkOperations reads every operation of j back through each reader
// (ListOperations in pages that cross document boundaries, GetOperation,
// UndoneOperations) and checks that operation i has request want(i).
func checkOperations(t *testing.T, s *store.Store, j *store.Job, want func(i int64) string) {
	t.Helper()
	ctx := t.Context()
	var got []*store.OperationView
	for next := int64(0); next != -1; {
		page, n, err := s.ListOperations(ctx, store.ListOperationsParams{JobID: j.ID, Start: next, Limit: 60})
		if err != nil {
			t.Fatal(err)
		}
		got, next = append(got, page...), n
	}
	if int64(len(got)) != j.Total {
		t.Fatalf("listed %d operations, want %d", len(got), j.Total)
	}
	for i, v := range got {
		if v.Index != int64(i) || v.ID != store.OperationID(j.ID, int64(i)) || v.Request != want(int64(i)) || v.Type != "expr" || v.JobID != j.ID {
			t.Fatalf("listed operation %d = %+v", i, v.Operation)
		}
	}
	for _, i := range []int64{0, 99, 100, j.Total - 1} {
		if i >= j.Total {
			continue
		}
		v, err := s.GetOperation(ctx, j.ID, store.OperationID(j.ID, i))
		if err != nil || v.Index != i || v.Request != want(i) {
			t.Fatalf("get operation %d: %+v %v", i, v, err)
		}
	}
	if _, err := s.GetOperation(ctx, j.ID, store.OperationID(j.ID, j.Total)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("operation past the end: %v", err)
	}
	u, err := s.UndoneOperations(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(u.Missing)) != j.Total-j.Done() {
		t.Fatalf("undone: %d operations, want %d", len(u.Missing), j.Total-j.Done())
	}
	for _, op := range u.Missing {
		if op.Request != want(op.Index) || op.ID != store.OperationID(j.ID, op.Index) {
			t.Fatalf("undone operation %+v", op)
		}
	}
}

// deleteLeavesNoOpDocs deletes job jobID and checks that none of its
// operation documents is left.
func deleteLeavesNoOpDocs(t *testing.T, s *store.Store, b *bundle, jobID string) {
	t.Helper()
	if err := s.DeleteJob(t.Context(), jobID); err != nil {
		t.Fatal(err)
	}
	if n := countOpDocs(t, b, jobID); n != 0 {
		t.Fatalf("%d operation documents left after delete", n)
	}
}

func countOpDocs(t *testing.T, b *bundle, jobID string) int64 {
	t.Helper()
	n, err := b.db.Collection("operations").CountDocuments(t.Context(), bson.D{{Key: "job_id", Value: jobID}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A job's operations are stored up to 100 to a document and read back
// from them by every reader; deleting the job deletes its documents.
func TestOperationDocuments(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, ops, _, err := s.CreateJob(ctx, numberedJob(250))
	if err != nil {
		t.Fatal(err)
	}
	if n := countOpDocs(t, b, j.ID); n != 3 {
		t.Fatalf("%d operation documents for 250 operations, want 3", n)
	}
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[100].ID, store.OpSucceeded, "100")}); err != nil {
		t.Fatal(err)
	}
	if j, err = s.GetJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	checkOperations(t, s, j, numbered)
	if v, err := s.GetOperation(ctx, j.ID, ops[100].ID); err != nil || v.State != store.OpSucceeded || v.Result != "100" {
		t.Fatalf("operation with an outcome: %+v %v", v, err)
	}

	// CreateJobs stores the same layout.
	created := s.CreateJobs(ctx, []store.NewJob{numberedJob(101), numberedJob(1)})
	for k, want := range []int64{2, 1} {
		c := created[k]
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		if n := countOpDocs(t, b, c.Job.ID); n != want {
			t.Fatalf("CreateJobs job %d: %d operation documents, want %d", k, n, want)
		}
		checkOperations(t, s, c.Job, numbered)
	}

	deleteLeavesNoOpDocs(t, s, b, j.ID)
}

// Large requests put fewer operations in a document.
func TestOperationDocumentsOfLargeRequests(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	big := func(i int64) string { return fmt.Sprintf("%d + %0*d", i, 60<<10, 0) }
	reqs := make([]string, 9)
	for i := range reqs {
		reqs[i] = big(int64(i))
	}
	j, _, _, err := s.CreateJob(ctx, newJob(reqs...))
	if err != nil {
		t.Fatal(err)
	}
	// 256 KiB hold four requests of just over 60 KiB: 9 operations need 3
	// documents.
	if n := countOpDocs(t, b, j.ID); n != 3 {
		t.Fatalf("%d operation documents, want 3", n)
	}
	checkOperations(t, s, j, big)
}

// Jobs stored one document per operation, before documents held several,
// are still read and deleted.
func TestOperationDocumentsOfEarlierVersion(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	j := &store.Job{ID: store.NewJobID(), Total: 120, CreateTime: now, UpdateTime: now}
	var docs []any
	for i := range j.Total {
		docs = append(docs, &store.Operation{ID: store.OperationID(j.ID, i), JobID: j.ID, Index: i, Type: "expr",
			Request: "old " + strconv.FormatInt(i, 10), CreateTime: now})
	}
	if _, err := b.db.Collection("operations").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Collection("jobs_active").InsertOne(ctx, j); err != nil {
		t.Fatal(err)
	}
	checkOperations(t, s, j, func(i int64) string { return "old " + strconv.FormatInt(i, 10) })
	deleteLeavesNoOpDocs(t, s, b, j.ID)
}

// For a rolling upgrade, SingleOperationDocs writes one document per
// operation, and a job whose OpsPerDoc an earlier version dropped (it
// rewrites the jobs it archives without the field) is still read from its
// grouped documents and deleted with them.
func TestOperationDocumentsDuringUpgrade(t *testing.T) {
	t.Parallel()
	_, b := setup(t)
	ctx := t.Context()
	single, grouped := openStore(t, b, store.Config{SingleOperationDocs: true}), openStore(t, b, store.Config{})
	old, _, _, err := single.CreateJob(ctx, numberedJob(150))
	if err != nil {
		t.Fatal(err)
	}
	if n := countOpDocs(t, b, old.ID); n != 150 || old.OpsPerDoc != 0 {
		t.Fatalf("single: %d operation documents, OpsPerDoc %d; want 150, 0", n, old.OpsPerDoc)
	}
	checkOperations(t, grouped, old, numbered)

	j, _, _, err := grouped.CreateJob(ctx, numberedJob(150))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Collection("jobs_active").UpdateOne(ctx, bson.D{{Key: "_id", Value: j.ID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "ops_per_doc", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	dropped, err := grouped.GetJob(ctx, j.ID)
	if err != nil || dropped.OpsPerDoc != 0 {
		t.Fatalf("job without the field: %+v %v", dropped, err)
	}
	checkOperations(t, grouped, dropped, numbered)
	deleteLeavesNoOpDocs(t, grouped, b, j.ID)
}

// A filtered page reads the outcomes first and then only the documents of
// the operations it keeps, each once, not one document per pass.
func TestFilteredListReadsDocumentsOnce(t *testing.T) {
	t.Parallel()
	r := setupReplicas(t)
	ctx := t.Context()
	j, ops, _, err := r.creator.CreateJob(ctx, numberedJob(100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.creator.ApplyResults(ctx, []store.Result{result(ops[99].ID, store.OpFailed, "")}); err != nil {
		t.Fatal(err)
	}
	before := r.creatorFinds.of("operations")
	page, next, err := r.creator.ListOperations(ctx, store.ListOperationsParams{JobID: j.ID, Limit: 10, States: []store.OpState{store.OpFailed}})
	if err != nil || len(page) != 1 || page[0].Index != 99 || page[0].Request != "99" || next != -1 {
		t.Fatalf("page = %d operations, next %d, %v", len(page), next, err)
	}
	if n := r.creatorFinds.of("operations") - before; n != 1 {
		t.Errorf("read the operations document %d times for one page, want 1", n)
	}
}
