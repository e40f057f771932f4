package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
)

// finds counts the find commands a store sends, by collection.
type finds struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *finds) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName != "find" {
			return
		}
		if coll, ok := e.Command.Lookup("find").StringValueOK(); ok {
			f.mu.Lock()
			if f.n == nil {
				f.n = map[string]int{}
			}
			f.n[coll]++
			f.mu.Unlock()
		}
	}}
}

// count is the number of finds in jobs_active.
func (f *finds) count() int { return f.of("jobs_active") }

func (f *finds) of(coll string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[coll]
}

// replicas are two client replicas' stores on one database, each counting
// its reads of jobs_active; the tests create their jobs with creator.
type replicas struct {
	b                        *bundle
	creator, other           *store.Store
	creatorFinds, otherFinds *finds
}

func setupReplicas(t *testing.T) replicas {
	t.Helper()
	_, b := setup(t)
	r := replicas{b: b, creatorFinds: &finds{}, otherFinds: &finds{}}
	r.creator = openStore(t, b, store.Config{Monitor: r.creatorFinds.monitor()})
	r.other = openStore(t, b, store.Config{Monitor: r.otherFinds.monitor()})
	return r
}

// openStore opens another store (another replica) on b's database with
// cfg (URI and database set here).
func openStore(t *testing.T, b *bundle, cfg store.Config) *store.Store {
	t.Helper()
	cfg.URI, cfg.Database = mongoURI, b.db.Name()
	s, err := store.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func allResults(j *store.Job) []store.Result {
	var batch []store.Result
	for i := range j.Total {
		batch = append(batch, result(store.OperationID(j.ID, i), store.OpSucceeded, "1"))
	}
	return batch
}

// A job this process created, whose every outcome one ApplyResults call
// holds, is archived without reading it back; any other job is read.
func TestApplyWholeJobWithoutReadingIt(t *testing.T) {
	t.Parallel()
	r := setupReplicas(t)
	ctx, b, creator, other, creatorFinds, otherFinds := t.Context(), r.b, r.creator, r.other, r.creatorFinds, r.otherFinds

	whole, _, _, err := creator.CreateJob(ctx, newJob("1", "2", "3"))
	if err != nil {
		t.Fatal(err)
	}
	// What jobs_active holds does not matter: say an earlier call's counter
	// update failed with a timeout but landed.
	if _, err := b.db.Collection("jobs_active").UpdateOne(ctx, bson.D{{Key: "_id", Value: whole.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "succeeded", Value: 2}}}}); err != nil {
		t.Fatal(err)
	}
	reads := creatorFinds.count() // creating the first listing entry looks for older jobs
	tombstoneReads := creatorFinds.of("deletions")
	st, err := creator.ApplyResults(ctx, allResults(whole))
	if err != nil {
		t.Fatal(err)
	}
	if n := creatorFinds.count() - reads; n != 0 {
		t.Errorf("the creator read jobs_active %d times for a job whose every outcome it held", n)
	}
	// It removed the job from jobs_active itself, so the job had not been
	// deleted: no tombstone to look for.
	if n := creatorFinds.of("deletions") - tombstoneReads; n != 0 {
		t.Errorf("looked for tombstones %d times after removing every archived job from jobs_active", n)
	}
	if len(st.Completed) != 1 || st.ByState[store.OpSucceeded] != 3 {
		t.Errorf("stats = %+v", st)
	}
	got, err := creator.GetJob(ctx, whole.ID)
	if err != nil || got.Succeeded != 3 || got.Done() != 3 || got.State() != store.JobSucceeded || got.ListingEntry == nil || !got.CreateTime.Equal(whole.CreateTime) {
		t.Fatalf("archived job = %+v, %v", got, err)
	}
	if n, err := b.db.Collection("jobs_active").CountDocuments(ctx, bson.D{{Key: "_id", Value: whole.ID}}); err != nil || n != 0 {
		t.Fatalf("left in jobs_active: %d, %v", n, err)
	}

	// Created by another replica: read.
	elsewhere, _, _, err := creator.CreateJob(ctx, newJob("1", "2"))
	if err != nil {
		t.Fatal(err)
	}
	reads = otherFinds.count()
	if _, err := other.ApplyResults(ctx, allResults(elsewhere)); err != nil {
		t.Fatal(err)
	}
	if otherFinds.count() == reads {
		t.Error("a replica that did not create the job archived it without reading it")
	}
	if got, err := other.GetJob(ctx, elsewhere.ID); err != nil || got.Succeeded != 2 || got.State() != store.JobSucceeded {
		t.Fatalf("job finished elsewhere = %+v, %v", got, err)
	}

	// Outcomes over two calls: both read, and the job ends right.
	split, _, _, err := creator.CreateJob(ctx, newJob("1", "2", "3", "4"))
	if err != nil {
		t.Fatal(err)
	}
	before := creatorFinds.count()
	batch := allResults(split)
	for _, part := range [][]store.Result{batch[:2], batch[2:]} {
		if _, err := creator.ApplyResults(ctx, part); err != nil {
			t.Fatal(err)
		}
	}
	if n := creatorFinds.count() - before; n != 2 {
		t.Errorf("a job finished over two calls was read %d times, want 2", n)
	}
	if got, err := creator.GetJob(ctx, split.ID); err != nil || got.Succeeded != 4 || got.State() != store.JobSucceeded {
		t.Fatalf("split job = %+v, %v", got, err)
	}
}

// A job deleted by another replica before its outcomes arrive is archived
// by the creator without a read, then buried again with its outcomes.
func TestApplyWholeJobDeletedElsewhere(t *testing.T) {
	t.Parallel()
	r := setupReplicas(t)
	ctx, b, creator, other, creatorFinds := t.Context(), r.b, r.creator, r.other, r.creatorFinds
	j, _, _, err := creator.CreateJob(ctx, newJob("1", "2", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	reads := creatorFinds.count()
	st, err := creator.ApplyResults(ctx, allResults(j))
	if err != nil {
		t.Fatal(err)
	}
	if n := creatorFinds.count() - reads; n != 0 {
		t.Errorf("the creator read jobs_active %d times: this is not the path under test", n)
	}
	if len(st.Completed) != 0 || st.Orphans != 3 || st.Applied() != 0 {
		t.Errorf("stats = %+v, want 3 orphans and nothing completed", st)
	}
	if _, err := creator.GetJob(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted job came back: %v", err)
	}
	for _, coll := range []string{"jobs", "jobs_active", "results", "operations"} {
		n, err := b.db.Collection(coll).CountDocuments(ctx, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "_id", Value: j.ID}}, bson.D{{Key: "job_id", Value: j.ID}}}}})
		if err != nil || n != 0 {
			t.Errorf("%s holds %d documents of the deleted job (%v)", coll, n, err)
		}
	}
}

// One applier call archives a job that another replica deleted meanwhile
// and one that nobody deleted: the first is buried with its outcomes, the
// second stays.
func TestArchiveBatchWithOneDeletedJob(t *testing.T) {
	t.Parallel()
	r := setupReplicas(t)
	ctx, b := t.Context(), r.b
	gone, _, _, err := r.creator.CreateJob(ctx, newJob("1", "2"))
	if err != nil {
		t.Fatal(err)
	}
	kept, _, _, err := r.creator.CreateJob(ctx, newJob("3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.other.DeleteJob(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	st, err := r.creator.ApplyResults(ctx, append(allResults(gone), allResults(kept)...))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Completed) != 1 || st.Completed[0].ID != kept.ID || st.Orphans != 2 {
		t.Errorf("stats = %+v", st)
	}
	if _, err := r.creator.GetJob(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted job archived back: %v", err)
	}
	if got, err := r.creator.GetJob(ctx, kept.ID); err != nil || got.State() != store.JobSucceeded {
		t.Errorf("kept job = %+v, %v", got, err)
	}
	if n, err := b.db.Collection("results").CountDocuments(ctx, bson.D{{Key: "job_id", Value: gone.ID}}); err != nil || n != 0 {
		t.Errorf("outcomes of the deleted job left: %d, %v", n, err)
	}
	if _, job := resultDocs(t, b, gone.ID); job != 0 {
		t.Errorf("whole outcomes of the deleted job left")
	}
	if _, job := resultDocs(t, b, kept.ID); job != 1 {
		t.Errorf("kept job's outcomes not stored whole")
	}
}
