package store_test

import (
	"slices"
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// createdWithResults creates jobs in one CreateJobs batch and returns
// their ids and a successful result for each of their operations.
func createdWithResults(t *testing.T, s *store.Store, jobs ...store.NewJob) (ids []string, batch []store.Result) {
	t.Helper()
	for _, c := range s.CreateJobs(t.Context(), jobs) {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		ids = append(ids, c.Job.ID)
		batch = append(batch, allResults(c.Job)...)
	}
	return ids, batch
}

// count is the number of documents in a collection of b's database.
func count(t *testing.T, b *bundle, coll string) int64 {
	t.Helper()
	n, err := b.db.Collection(coll).CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// With OutboxActive, a batch's outbox entry rides in its
// jobs' insert into jobs_active, no reader of jobs takes it for a job, and
// CleanUp deletes it together with the batch's archived jobs in one write.
func TestOutboxInActive(t *testing.T) {
	t.Parallel()
	w := &writes{}
	s, b := setupWith(t, store.Config{Writes: w, Outbox: store.OutboxActive})
	r := &retirements{}
	s.DeferRetire(r.add)
	ctx := t.Context()
	ids, batch := createdWithResults(t, s, numberedJob(2), numberedJob(1), numberedJob(3))
	if n := count(t, b, "outbox"); n != 0 {
		t.Errorf("outbox collection holds %d documents, want none", n)
	}
	if n := count(t, b, "jobs_active"); n != 4 {
		t.Errorf("jobs_active holds %d documents, want the 3 jobs and the batch's entry", n)
	}
	entries, err := s.Outbox(ctx)
	if err != nil || len(entries) != 1 || !store.IsRoundID(entries[0].ID) || !slices.Equal(entries[0].Jobs(), ids) {
		t.Fatalf("Outbox = %+v, %v; want one entry for the batch's jobs %v", entries, err, ids)
	}
	active, err := s.ActiveJobs(ctx)
	if err != nil || len(active) != 3 {
		t.Fatalf("ActiveJobs = %v, %v; want the 3 jobs", jobIDs(active), err)
	}
	listed, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 10, States: []store.JobState{store.JobPending}})
	if err != nil || len(listed) != 3 {
		t.Fatalf("pending jobs listed = %v, %v; want the 3 jobs", jobIDs(listed), err)
	}
	listed, _, err = s.ListJobs(ctx, store.ListJobsParams{Limit: 10})
	if err != nil || len(listed) != 3 {
		t.Fatalf("jobs listed = %v, %v; want the 3 jobs", jobIDs(listed), err)
	}

	if _, err := s.ApplyResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	retired := r.take()
	if len(retired) != 3 {
		t.Fatalf("%d jobs handed over for retirement, want 3", len(retired))
	}
	w.mu.Lock()
	before := len(w.seen)
	w.mu.Unlock()
	gone, err := s.CleanUp(ctx, ids, retired)
	if err != nil || len(gone) != 0 {
		t.Fatalf("CleanUp = %v, %v", gone, err)
	}
	w.mu.Lock()
	cleanup := slices.Clone(w.seen[before:])
	w.mu.Unlock()
	if len(cleanup) != 1 || cleanup[0].op != "delete" || cleanup[0].coll != "jobs_active" {
		t.Errorf("CleanUp wrote %+v; want one delete from jobs_active", cleanup)
	}
	checkNothingLeft(t, b, "jobs_active")
	if entries, err := s.Outbox(ctx); err != nil || len(entries) != 0 {
		t.Errorf("Outbox after CleanUp = %+v, %v", entries, err)
	}
	for _, id := range ids {
		if j, err := s.GetJob(ctx, id); err != nil || j.State() != store.JobSucceeded {
			t.Errorf("job %s = %+v, %v; want it succeeded", id, j, err)
		}
	}
}
