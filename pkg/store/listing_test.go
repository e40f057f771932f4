package store_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// secondStore opens another Store on the same database: another client
// process, with its own view of the listing index.
func secondStore(t *testing.T, b *bundle) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Config{URI: mongoURI, Database: b.db.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// listAll pages through ListJobs and fails on a job listed twice.
func listAll(t *testing.T, s *store.Store, p store.ListJobsParams, between func()) (ids []string, pages int) {
	t.Helper()
	seen := map[string]bool{}
	for {
		jobs, next, err := s.ListJobs(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(jobs) > p.Limit {
			t.Fatalf("page of %d, limit %d", len(jobs), p.Limit)
		}
		for _, j := range jobs {
			if seen[j.ID] {
				t.Fatalf("job %s listed twice", j.ID)
			}
			seen[j.ID] = true
			ids = append(ids, j.ID)
		}
		if next == nil {
			return ids, pages
		}
		p.After = next
		if between != nil {
			between()
		}
	}
}

func TestListJobsPagesEveryJobOnce(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	other := secondStore(t, b)

	// Two "processes" create jobs at once, one by one and in batches, so
	// that they race for listing entries.
	var mu sync.Mutex
	want := map[string]bool{}
	var wg sync.WaitGroup
	for w, st := range []*store.Store{s, other} {
		wg.Go(func() {
			for i := range 40 {
				j, _, _, err := st.CreateJob(ctx, newJob(fmt.Sprint(w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				batch := []store.NewJob{newJob("1"), newJob("2"), newJob("3")}
				created := st.CreateJobs(ctx, batch)
				mu.Lock()
				want[j.ID] = true
				for _, c := range created {
					if c.Err != nil {
						t.Error(c.Err)
					}
					want[c.Job.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// 160 entries, numbered 0..159 without a gap.
	cur, err := b.db.Collection("operations").Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: "^listing-"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &entries); err != nil {
		t.Fatal(err)
	}
	nums := make([]int, len(entries))
	for i, e := range entries {
		nums[i], _ = strconv.Atoi(strings.TrimPrefix(e.ID, "listing-"))
	}
	slices.Sort(nums)
	if len(nums) != 160 || nums[0] != 0 || nums[159] != 159 {
		t.Fatalf("listing entries %v, want 0..159", nums)
	}

	// Deleted jobs are not listed.
	var deleted []string
	for id := range want {
		if len(deleted) == 7 {
			break
		}
		if err := s.DeleteJob(ctx, id); err != nil {
			t.Fatal(err)
		}
		deleted = append(deleted, id)
		delete(want, id)
	}

	// Jobs created between pages are not listed by the pages that follow
	// (they are newer than the listing's start), and nothing repeats.
	ids, pages := listAll(t, s, store.ListJobsParams{Limit: 30}, func() {
		if _, _, _, err := other.CreateJob(ctx, newJob("late")); err != nil {
			t.Fatal(err)
		}
	})
	if len(ids) != len(want) || pages != (len(want)+29)/30 {
		t.Fatalf("listed %d jobs in %d pages, want %d in %d", len(ids), pages, len(want), (len(want)+29)/30)
	}
	for _, id := range ids {
		if !want[id] {
			t.Fatalf("listed %s, which is deleted or was created after the listing started", id)
		}
	}
	// Newest first: the first page starts with the newest job.
	latest, _, _, err := s.CreateJob(ctx, newJob("latest"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := other.ListJobs(ctx, store.ListJobsParams{Limit: 1})
	if err != nil || len(first) != 1 || first[0].ID != latest.ID {
		t.Fatalf("first job %v (%v), want the newest %s", first, err, latest.ID)
	}
	// A position past the newest entry (a token can carry any number)
	// starts at the newest.
	far, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 1, After: &store.ListPosition{Entry: 1 << 60, JobID: "z"}})
	if err != nil || len(far) != 1 || far[0].ID != latest.ID {
		t.Fatalf("position past the end: %v %v", far, err)
	}
}

func TestListJobsByState(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	var succeeded, running []string
	for i := range 60 {
		_, ops, _, err := s.CreateJob(ctx, newJob("1", "2"))
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // finished: archived
			if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1"), result(ops[1].ID, store.OpSucceeded, "2")}); err != nil {
				t.Fatal(err)
			}
			succeeded = append(succeeded, ops[0].JobID)
		case 1: // half done: running
			if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1")}); err != nil {
				t.Fatal(err)
			}
			running = append(running, ops[0].JobID)
		}
	}
	slices.Reverse(succeeded)
	slices.Reverse(running)
	for _, tc := range []struct {
		states []store.JobState
		want   []string
	}{
		{[]store.JobState{store.JobSucceeded}, succeeded},
		{[]store.JobState{store.JobRunning}, running}, // jobs_active only
	} {
		got, _ := listAll(t, s, store.ListJobsParams{Limit: 7, States: tc.states}, nil)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: listed %d jobs, want %d newest first", tc.states, len(got), len(tc.want))
		}
	}
}

// A rare state among many jobs: a page stops after looking at a bounded
// number of jobs and says where to continue, instead of reading them all.
func TestListJobsRareStateBounded(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	_, ops, _, err := s.CreateJob(ctx, newJob("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpFailed, "")}); err != nil {
		t.Fatal(err)
	}
	batch := make([]store.NewJob, 1500)
	for i := range batch {
		batch[i] = newJob("1")
	}
	for _, c := range s.CreateJobs(ctx, batch) {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	p := store.ListJobsParams{Limit: 10, States: []store.JobState{store.JobFailed}}
	page, next, err := s.ListJobs(ctx, p)
	if err != nil || len(page) != 0 || next == nil {
		t.Fatalf("first page: %d jobs, next %v, %v; want an empty page and a position", len(page), next, err)
	}
	got, pages := listAll(t, s, p, nil)
	if len(got) != 1 || got[0] != ops[0].JobID || pages != 2 {
		t.Fatalf("listed %v in %d pages, want the failed job in 2", got, pages)
	}
}

// A create retried after its first attempt stopped before the job document
// (same request_id) writes a second listing entry for the same job; the job
// is still listed once, across pages.
func TestListJobsRetriedCreateListedOnce(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	first := newJob("1")
	first.RequestID = "retried"
	a, _, _, err := s.CreateJob(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	// As if the first attempt had stopped before its commit point.
	if _, err := b.db.Collection("jobs_active").DeleteOne(ctx, bson.D{{Key: "_id", Value: a.ID}}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, _, err := s.CreateJob(ctx, newJob("2")); err != nil {
			t.Fatal(err)
		}
	}
	again, _, created, err := s.CreateJob(ctx, first)
	if err != nil || !created || again.ID != a.ID {
		t.Fatalf("retry: %v created=%v id %s, want the same job %s", err, created, again.ID, a.ID)
	}
	ids, _ := listAll(t, s, store.ListJobsParams{Limit: 3}, nil)
	if len(ids) != 6 || ids[0] != a.ID {
		t.Fatalf("listed %v, want 6 jobs, the retried one first (its newest entry)", ids)
	}
}

// Jobs stored before the listing index existed (an upgrade) are listed
// after the indexed ones, and a page token of the previous version (a job
// id, no entry) continues by job id.
func TestListJobsAfterUpgrade(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	var old []any
	var oldIDs []string
	for range 4 {
		id := store.NewJobID()
		old = append(old, &store.Job{ID: id, Total: 1, Succeeded: 1, CreateTime: time.Now().UTC(), UpdateTime: time.Now().UTC()})
		oldIDs = append(oldIDs, id)
	}
	if _, err := b.db.Collection("jobs").InsertMany(ctx, old); err != nil {
		t.Fatal(err)
	}
	var newIDs []string
	for range 3 {
		j, _, _, err := s.CreateJob(ctx, newJob("1"))
		if err != nil {
			t.Fatal(err)
		}
		newIDs = append(newIDs, j.ID)
	}
	slices.Reverse(oldIDs)
	slices.Reverse(newIDs)
	want := append(slices.Clone(newIDs), oldIDs...)
	for _, limit := range []int{2, 3, 10} {
		got, _ := listAll(t, s, store.ListJobsParams{Limit: limit}, nil)
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: listed %v, want %v", limit, got, want)
		}
	}
	got, _ := listAll(t, s, store.ListJobsParams{Limit: 2, After: &store.ListPosition{Entry: -1, JobID: oldIDs[0]}}, nil)
	if !slices.Equal(got, oldIDs[1:]) {
		t.Errorf("from an old token: listed %v, want %v", got, oldIDs[1:])
	}
	if _, _, err := s.ListJobs(ctx, store.ListJobsParams{}); err == nil {
		t.Error("limit 0 accepted")
	}
}
