package store_test

import (
	"errors"
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
)

func TestCreateJobs(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
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
	entries, err := s.Outbox(ctx)
	if err != nil || len(entries) != 4 { // the earlier job's and three new ones
		t.Fatalf("outbox = %+v %v", entries, err)
	}
	if err := s.MarkPublishedMany(ctx, []string{out[0].Job.ID, out[1].Job.ID, out[5].Job.ID}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := s.Outbox(ctx); len(entries) != 1 {
		t.Fatalf("outbox after MarkPublishedMany = %+v", entries)
	}
}
