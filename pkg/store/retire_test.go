package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// retirements collects what a store with DeferRetire hands over.
type retirements struct {
	mu   sync.Mutex
	jobs []*store.Job
}

func (r *retirements) add(_ context.Context, j *store.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, j)
}

func (r *retirements) take() []*store.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.jobs
	r.jobs = nil
	return out
}

// setupDeferred is setup with archived jobs handed to the returned
// retirements instead of removed from jobs_active.
func setupDeferred(t *testing.T) (*store.Store, *bundle, *retirements) {
	t.Helper()
	s, b := setup(t)
	r := &retirements{}
	s.DeferRetire(r.add)
	return s, b, r
}

func inActive(t *testing.T, b *bundle, id string) bool {
	t.Helper()
	n, err := b.db.Collection("jobs_active").CountDocuments(t.Context(), bson.D{{Key: "_id", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// A job archived with its removal deferred is in both collections until
// RetireJobs; meanwhile every reader takes the archived copy.
func TestDeferredRetire(t *testing.T) {
	t.Parallel()
	s, b, r := setupDeferred(t)
	ctx := t.Context()
	done, _, _, err := s.CreateJob(ctx, newJob("1", "2"))
	if err != nil {
		t.Fatal(err)
	}
	running, _, _, err := s.CreateJob(ctx, newJob("3", "4"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.ApplyResults(ctx, append(allResults(done), result(store.OperationID(running.ID, 0), store.OpSucceeded, "3")))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Completed) != 1 || st.Completed[0].ID != done.ID {
		t.Fatalf("completed = %+v", st.Completed)
	}
	handed := r.take()
	if len(handed) != 1 || handed[0].ID != done.ID {
		t.Fatalf("handed to retire: %+v", handed)
	}
	if !inActive(t, b, done.ID) {
		t.Fatal("the archived job left jobs_active before RetireJobs")
	}

	got, err := s.GetJob(ctx, done.ID)
	if err != nil || got.State() != store.JobSucceeded || got.Succeeded != 2 {
		t.Errorf("GetJob of the archived job = %+v, %v; want it succeeded with 2", got, err)
	}
	if got, err := s.GetJob(ctx, running.ID); err != nil || got.State() != store.JobRunning || got.Succeeded != 1 {
		t.Errorf("GetJob of the running job = %+v, %v", got, err)
	}
	unfinished, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 10, States: []store.JobState{store.JobPending, store.JobRunning}})
	if err != nil {
		t.Fatal(err)
	}
	if len(unfinished) != 1 || unfinished[0].ID != running.ID {
		t.Errorf("unfinished jobs = %v, want only %s", jobIDs(unfinished), running.ID)
	}
	all, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].ID != done.ID || all[1].State() != store.JobSucceeded {
		t.Errorf("all jobs = %v (%+v)", jobIDs(all), all)
	}

	gone, err := s.RetireJobs(ctx, handed)
	if err != nil || len(gone) != 0 {
		t.Fatalf("RetireJobs = %v, %v", gone, err)
	}
	if inActive(t, b, done.ID) {
		t.Error("RetireJobs left the job in jobs_active")
	}
	if got, err := s.GetJob(ctx, done.ID); err != nil || got.State() != store.JobSucceeded {
		t.Errorf("GetJob after RetireJobs = %+v, %v", got, err)
	}
	// Again (a retry): nothing to remove, nothing deleted.
	if gone, err := s.RetireJobs(ctx, handed); err != nil || len(gone) != 0 {
		t.Errorf("RetireJobs again = %v, %v", gone, err)
	}
}

// A job deleted between its archiving and its removal from jobs_active is
// gone for good, with its outcomes, and RetireJobs names it.
func TestRetireAfterDelete(t *testing.T) {
	t.Parallel()
	s, b, r := setupDeferred(t)
	ctx := t.Context()
	j, _, _, err := s.CreateJob(ctx, newJob("1", "2", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, allResults(j)); err != nil {
		t.Fatal(err)
	}
	handed := r.take()
	if len(handed) != 1 {
		t.Fatalf("handed to retire: %d jobs", len(handed))
	}
	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	gone, err := s.RetireJobs(ctx, handed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone, []string{j.ID}) {
		t.Errorf("gone = %v, want [%s]", gone, j.ID)
	}
	if _, err := s.GetJob(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJob of the deleted job: %v", err)
	}
	checkNothingLeft(t, b, "jobs", "jobs_active", "results", "operations")
}

// Two archivings of one job (a retry) and a batch naming a job twice are
// removed without looking for tombstones that do not exist; a job the relay
// finds finished in jobs_active is archived and handed over again.
func TestRetireTwice(t *testing.T) {
	t.Parallel()
	s, b, r := setupDeferred(t)
	ctx := t.Context()
	j, _, _, err := s.CreateJob(ctx, newJob("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, allResults(j)); err != nil {
		t.Fatal(err)
	}
	first := r.take()
	// The relay's scan reads jobs_active, where the job still is with its
	// counters from before its result: FinishIfDone leaves it to the relay's
	// reconciliation (it does not look finished), but an archived copy
	// read back from `jobs` is finished and handed over again.
	archived, err := s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if finished, err := s.FinishIfDone(ctx, archived); err != nil || !finished {
		t.Fatalf("FinishIfDone = %v, %v", finished, err)
	}
	again := r.take()
	if len(again) != 1 || again[0].ID != j.ID {
		t.Fatalf("handed again: %+v", again)
	}
	gone, err := s.RetireJobs(ctx, append(first, again...))
	if err != nil || len(gone) != 0 {
		t.Errorf("RetireJobs = %v, %v", gone, err)
	}
	if inActive(t, b, j.ID) {
		t.Error("job left in jobs_active")
	}
	if got, err := s.GetJob(ctx, j.ID); err != nil || got.State() != store.JobSucceeded {
		t.Errorf("GetJob = %+v, %v", got, err)
	}
}

func jobIDs(jobs []*store.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

// The relay retires a job whose batched removal was lost (RetireArchived),
// and only jobs last updated before the grace it is given.
func TestRetireArchived(t *testing.T) {
	t.Parallel()
	s, b, r := setupDeferred(t)
	ctx := t.Context()
	lost, _, _, err := s.CreateJob(ctx, newJob("1"))
	if err != nil {
		t.Fatal(err)
	}
	running, _, _, err := s.CreateJob(ctx, newJob("2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, allResults(lost)); err != nil {
		t.Fatal(err)
	}
	_ = r.take() // the retirer's batch, lost
	active, err := s.ActiveJobs(ctx)
	if err != nil || len(active) != 2 {
		t.Fatalf("ActiveJobs = %d jobs, %v", len(active), err)
	}
	// Within the grace: left alone.
	kept, err := s.RetireArchived(ctx, active, lost.CreateTime)
	if err != nil || len(kept) != 2 || !inActive(t, b, lost.ID) {
		t.Fatalf("RetireArchived within the grace = %v, %v", jobIDs(kept), err)
	}
	kept, err = s.RetireArchived(ctx, active, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].ID != running.ID {
		t.Errorf("kept %v, want only %s", jobIDs(kept), running.ID)
	}
	if inActive(t, b, lost.ID) {
		t.Error("archived job left in jobs_active")
	}
	if !inActive(t, b, running.ID) {
		t.Error("running job removed from jobs_active")
	}
}
