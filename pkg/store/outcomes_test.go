package store_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// resultDocs counts the documents of results: all of them, and those with
// the job's id as `_id` (its whole outcomes or its per-operation marker).
func resultDocs(t *testing.T, b *bundle, jobID string) (all, job int64) {
	t.Helper()
	coll := b.db.Collection("results")
	all, err := coll.CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	job, err = coll.CountDocuments(t.Context(), bson.D{{Key: "_id", Value: jobID}})
	if err != nil {
		t.Fatal(err)
	}
	return all, job
}

// A small job whose every outcome is in one applier call has them stored
// as one document, which every reader and DeleteJob know.
func TestWholeJobOutcomes(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, _, _, err := s.CreateJob(ctx, newJob("1", "2", "3", "4"))
	if err != nil {
		t.Fatal(err)
	}
	batch := []store.Result{
		result(store.OperationID(j.ID, 0), store.OpSucceeded, "r0"),
		result(store.OperationID(j.ID, 2), store.OpFailed, ""),
		result(store.OperationID(j.ID, 1), store.OpSucceeded, "r1"),
		result(store.OperationID(j.ID, 3), store.OpSucceeded, "r3"),
	}
	batch[1].Error, batch[1].WorkerNode, batch[1].Attempt = "division by zero", "server-7", 2
	st, err := s.ApplyResults(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Completed) != 1 || st.Applied() != 4 {
		t.Fatalf("stats = %+v", st)
	}
	if all, job := resultDocs(t, b, j.ID); all != 1 || job != 1 {
		t.Fatalf("results holds %d documents (%d with the job's id), want the job's one", all, job)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil || got.Succeeded != 3 || got.Failed != 1 {
		t.Fatalf("job = %+v, %v", got, err)
	}
	want := map[int64]store.Result{0: batch[0], 1: batch[2], 2: batch[1], 3: batch[3]}
	for i, w := range want {
		op, err := s.GetOperation(ctx, j.ID, store.OperationID(j.ID, i))
		if err != nil {
			t.Fatal(err)
		}
		if op.State != w.State || op.Result != w.Result || op.Error != w.Error || op.WorkerNode != w.WorkerNode ||
			op.Attempt != w.Attempt || op.CompleteTime == nil || !op.CompleteTime.Equal(w.CompleteTime.Truncate(1e6)) {
			t.Errorf("operation %d = %+v, want %+v", i, op, w)
		}
		if op.Request != fmt.Sprint(i+1) {
			t.Errorf("operation %d request %q", i, op.Request)
		}
	}
	ops, next, err := s.ListOperations(ctx, store.ListOperationsParams{JobID: j.ID, Limit: 10, States: []store.OpState{store.OpFailed}})
	if err != nil || len(ops) != 1 || ops[0].ID != store.OperationID(j.ID, 2) || next != -1 {
		t.Fatalf("failed operations = %+v, next %d, %v", ops, next, err)
	}
	outs, err := s.JobOutcomes(ctx, got)
	if err != nil || len(outs) != 4 || outs[1].Result != "r1" || outs[2].State != store.OpFailed {
		t.Fatalf("outcomes = %+v, %v", outs, err)
	}
	u, err := s.UndoneOperations(ctx, got)
	if err != nil || len(u.Missing) != 0 || len(u.Claims) != 0 || u.Succeeded != 3 || u.Failed != 1 {
		t.Fatalf("undone = %+v, %v", u, err)
	}
	// A claim after the fact claims nothing: every operation has its outcome.
	claims, err := s.ClaimFailed(ctx, j.ID, []string{store.OperationID(j.ID, 0)}, 3, "timed out")
	if err != nil || len(claims) != 0 {
		t.Fatalf("claims after whole outcomes = %+v, %v", claims, err)
	}
	// The same batch again (a redelivery) counts nothing.
	if st, err := s.ApplyResults(ctx, batch); err != nil || st.Applied() != 0 || len(st.Completed) != 0 {
		t.Fatalf("redelivery: %+v, %v", st, err)
	}
	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := resultDocs(t, b, j.ID); all != 0 {
		t.Fatalf("%d results documents left after DeleteJob", all)
	}
}

// A cancellation claim before the results makes the job's outcomes per
// operation: the results then lose to the claims one by one, and the job
// is counted exactly once.
func TestClaimBeforeWholeOutcomes(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, _, _, err := s.CreateJob(ctx, newJob("1", "2", "3"))
	if err != nil {
		t.Fatal(err)
	}
	_, claims, err := s.ClaimCancelled(ctx, j.ID)
	if err != nil || len(claims) != 3 {
		t.Fatalf("claims = %+v, %v", claims, err)
	}
	st, err := s.ApplyResults(ctx, allResults(j))
	if err != nil {
		t.Fatal(err)
	}
	if st.ByState[store.OpCancelled] != 3 || st.ByState[store.OpSucceeded] != 0 {
		t.Fatalf("stats = %+v", st)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil || got.Cancelled != 3 || got.Succeeded != 0 || got.State() != store.JobCancelled {
		t.Fatalf("job = %+v, %v", got, err)
	}
	// Three claims and the marker.
	if all, job := resultDocs(t, b, j.ID); all != 4 || job != 1 {
		t.Fatalf("results holds %d documents (%d with the job's id), want 3 and the marker", all, job)
	}
	op, err := s.GetOperation(ctx, j.ID, store.OperationID(j.ID, 1))
	if err != nil || op.State != store.OpCancelled {
		t.Fatalf("operation = %+v, %v", op, err)
	}
}

// Two appliers of the same results (a rebalance overlap): the one that
// created the job stores them whole, the other per operation, concurrently.
// The job's `_id` in results lets exactly one way win, and every outcome is
// counted once.
func TestWholeAndPerOperationRace(t *testing.T) {
	t.Parallel()
	r := setupReplicas(t)
	ctx := t.Context()
	for round := range 8 {
		j, _, _, err := r.creator.CreateJob(ctx, newJob("1", "2", "3", "4", "5"))
		if err != nil {
			t.Fatal(err)
		}
		batch := allResults(j)
		var wg sync.WaitGroup
		applied := make([]int, 2)
		for k, s := range []*store.Store{r.creator, r.other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := s.ApplyResults(ctx, batch)
				if err != nil {
					t.Error(err)
				}
				applied[k] = st.Applied()
			}()
		}
		wg.Wait()
		if applied[0]+applied[1] != 5 {
			t.Fatalf("round %d: applied %v, want 5 in all", round, applied)
		}
		got, err := r.creator.GetJob(ctx, j.ID)
		if err != nil || got.Succeeded != 5 || got.State() != store.JobSucceeded {
			t.Fatalf("round %d: job = %+v, %v", round, got, err)
		}
		u, err := r.other.UndoneOperations(ctx, got)
		if err != nil || len(u.Missing) != 0 || u.Succeeded != 5 {
			t.Fatalf("round %d: stored outcomes = %+v, %v", round, u, err)
		}
	}
}

// A write of an applier call that fails after the call stored a job's
// outcomes whole must not lose them: the consumer's retry of the batch finds
// the whole document and counts it (Store.uncounted), instead of taking it
// for another applier's and leaving the job to the relay's reconciliation.
func TestWholeWinCountedOnRetryAfterALaterError(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	j1, _, _, err := s.CreateJob(ctx, newJob("1", "2"))
	if err != nil {
		t.Fatal(err)
	}
	// J2: more than 64 operations, stored per operation, after J1's whole
	// document.
	reqs := make([]string, 65)
	for i := range reqs {
		reqs[i] = "1"
	}
	j2, _, _, err := s.CreateJob(ctx, newJob(reqs...))
	if err != nil {
		t.Fatal(err)
	}
	good := allResults(j1)
	// A document the driver refuses (60 MB) stands for a failed write.
	bad := result(store.OperationID(j2.ID, 0), store.OpSucceeded, strings.Repeat("x", 60<<20))
	if _, err := s.ApplyResults(ctx, append(slices.Clone(good), bad)); err == nil {
		t.Fatal("the call with an oversized result did not fail")
	}
	st, err := s.ApplyResults(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(ctx, j1.ID)
	if err != nil || got.Succeeded != 2 || got.State() != store.JobSucceeded {
		t.Fatalf("after the retry (%+v): job = %+v, %v", st, got, err)
	}
}

// For a rolling upgrade from a version before whole-job outcomes and batch
// outbox entries, a store can write as that version did: outcomes one
// document each (after the marker, which older replicas ignore) and an
// outbox entry per job.
func TestWritesForRollingUpgrade(t *testing.T) {
	t.Parallel()
	_, b := setup(t)
	s := openStore(t, b, store.Config{OutcomesPerOperation: true, Outbox: store.OutboxJob})
	ctx := t.Context()
	out := s.CreateJobs(ctx, []store.NewJob{newJob("1", "2"), newJob("3")})
	for _, c := range out {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	entries, err := s.Outbox(ctx)
	if err != nil || len(entries) != 2 || len(entries[0].JobIDs)+len(entries[1].JobIDs) != 0 {
		t.Fatalf("outbox = %+v, %v; want one entry per job", entries, err)
	}
	j := out[0].Job
	if _, err := s.ApplyResults(ctx, allResults(j)); err != nil {
		t.Fatal(err)
	}
	// Two outcomes and the marker.
	if all, job := resultDocs(t, b, j.ID); all != 3 || job != 1 {
		t.Fatalf("results holds %d documents (%d with the job's id), want 2 and the marker", all, job)
	}
	if got, err := s.GetJob(ctx, j.ID); err != nil || got.State() != store.JobSucceeded {
		t.Fatalf("job = %+v, %v", got, err)
	}
}
