package store_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
)

// layouts are the outbox layouts with an entry per batch (OutboxJob: see
// TestWritesForRollingUpgrade).
var layouts = map[string]store.OutboxLayout{"active": store.OutboxActive, "batch": store.OutboxBatch}

// forLayouts runs test as a parallel subtest for each of layouts.
func forLayouts(t *testing.T, test func(*testing.T, store.OutboxLayout)) {
	t.Helper()
	for name, layout := range layouts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, layout)
		})
	}
}

func TestCreateJobs(t *testing.T) {
	t.Parallel()
	forLayouts(t, testCreateJobs)
}

func testCreateJobs(t *testing.T, layout store.OutboxLayout) {
	s, _ := setupWith(t, store.Config{Outbox: layout})
	ctx := t.Context()
	withID := func(id string, reqs ...string) store.NewJob {
		n := newJob(reqs...)
		n.RequestID = id
		return n
	}
	// An earlier job holds request_id "taken".
	if _, _, _, err := s.CreateJob(ctx, withID("taken", "1")); err != nil {
		t.Fatal(err)
	}
	out := s.CreateJobs(ctx, []store.NewJob{
		newJob("1", "2", "3"),
		withID("r1", "4"),
		withID("r1", "4"),     // same request twice in one batch
		withID("taken", "99"), // reused with other content
		withID("taken", "1"),  // a retry of the earlier job
		newJob("5"),
	})
	if len(out) != 6 {
		t.Fatalf("%d results", len(out))
	}
	for i, want := range []bool{true, true, false, false, false, true} {
		if out[i].Created != want {
			t.Errorf("job %d created = %v, want %v (%+v)", i, out[i].Created, want, out[i])
		}
	}
	if out[0].Err != nil || len(out[0].Ops) != 3 || out[0].Ops[2].ID != store.OperationID(out[0].Job.ID, 2) {
		t.Fatalf("job 0 = %+v", out[0])
	}
	if out[2].Err != nil || out[2].Job.ID != out[1].Job.ID {
		t.Fatalf("the repeated request_id gave %+v, want job %s", out[2], out[1].Job.ID)
	}
	if !errors.Is(out[3].Err, store.ErrRequestIDConflict) {
		t.Fatalf("reused request_id: %v", out[3].Err)
	}
	if out[4].Err != nil || out[4].Job == nil || out[4].Job.RequestID != "taken" {
		t.Fatalf("retry: %+v", out[4])
	}
	for _, i := range []int{0, 1, 5} {
		j, err := s.GetJob(ctx, out[i].Job.ID)
		if err != nil || j.Total != int64(len(out[i].Ops)) || j.State() != store.JobPending {
			t.Fatalf("job %d stored as %+v, %v", i, j, err)
		}
		v, err := s.GetOperation(ctx, j.ID, out[i].Ops[0].ID)
		if err != nil || v.Request != out[i].Ops[0].Request {
			t.Fatalf("operation of job %d: %+v %v", i, v, err)
		}
	}
	// The earlier job's own outbox entry, and one for the batch's three new
	// jobs.
	entries, err := s.Outbox(ctx)
	if err != nil || len(entries) != 2 {
		t.Fatalf("outbox = %+v %v", entries, err)
	}
	batchJobs := []string{out[0].Job.ID, out[1].Job.ID, out[5].Job.ID}
	if got := roundOf(entries, out[0].Job.ID); !slices.Equal(got, batchJobs) {
		t.Fatalf("the batch's outbox entry holds %v, want %v", got, batchJobs)
	}
	// Published one by one: the entry goes with the last of them.
	for k, id := range batchJobs {
		if err := s.MarkPublishedMany(ctx, []string{id}); err != nil {
			t.Fatal(err)
		}
		entries, _ := s.Outbox(ctx)
		if want := map[bool]int{true: 1, false: 2}[k == len(batchJobs)-1]; len(entries) != want {
			t.Fatalf("after publishing %d of 3: outbox = %+v", k+1, entries)
		}
	}
}

// roundOf returns the jobs of the outbox entry that holds jobID.
func roundOf(entries []store.OutboxEntry, jobID string) []string {
	for _, e := range entries {
		if slices.Contains(e.Jobs(), jobID) {
			return e.Jobs()
		}
	}
	return nil
}

// A job whose publish failed gets an outbox entry of its own, and the
// batch's entry goes with the last of the others: the relay then publishes
// that job alone, not its whole batch.
func TestPublishDeferredGetsItsOwnEntry(t *testing.T) {
	t.Parallel()
	forLayouts(t, testPublishDeferredGetsItsOwnEntry)
}

func testPublishDeferredGetsItsOwnEntry(t *testing.T, layout store.OutboxLayout) {
	s, _ := setupWith(t, store.Config{Outbox: layout})
	ctx := t.Context()
	out := s.CreateJobs(ctx, []store.NewJob{newJob("1"), newJob("2"), newJob("3")})
	ids := make([]string, len(out))
	for i, c := range out {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		ids[i] = c.Job.ID
	}
	s.PublishDeferred(ctx, out[1].Job)
	if err := s.MarkPublishedMany(ctx, []string{ids[0]}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := s.Outbox(ctx); len(entries) != 2 {
		t.Fatalf("outbox = %+v; want the batch's and the deferred job's", entries)
	}
	if err := s.MarkPublishedMany(ctx, []string{ids[2]}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.Outbox(ctx)
	if err != nil || len(entries) != 1 || !slices.Equal(entries[0].Jobs(), []string{ids[1]}) {
		t.Fatalf("outbox = %+v, %v; want the deferred job's own entry", entries, err)
	}
	// Deferred last: the batch's entry goes then.
	out = s.CreateJobs(ctx, []store.NewJob{newJob("4"), newJob("5")})
	if err := s.MarkPublishedMany(ctx, []string{out[0].Job.ID}); err != nil {
		t.Fatal(err)
	}
	s.PublishDeferred(ctx, out[1].Job)
	entries, _ = s.Outbox(ctx)
	if len(entries) != 2 || roundOf(entries, out[1].Job.ID) == nil || roundOf(entries, out[0].Job.ID) != nil {
		t.Fatalf("outbox = %+v; want the two deferred jobs' own entries", entries)
	}
	// A split by the relay: the batch's entry replaced by those it names.
	out = s.CreateJobs(ctx, []store.NewJob{newJob("6"), newJob("7")})
	entries, _ = s.Outbox(ctx)
	var batch store.OutboxEntry
	for _, e := range entries {
		if len(e.JobIDs) > 0 {
			batch = e
		}
	}
	if err := s.SplitOutboxEntry(ctx, batch, []string{out[0].Job.ID}); err != nil {
		t.Fatal(err)
	}
	entries, _ = s.Outbox(ctx)
	if len(entries) != 3 || !slices.Equal(roundOf(entries, out[0].Job.ID), []string{out[0].Job.ID}) || roundOf(entries, out[1].Job.ID) != nil {
		t.Fatalf("outbox after the split = %+v", entries)
	}
}
