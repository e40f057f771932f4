package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
)

// BenchmarkListing100k pages through jobs and operations with 100,000
// operations stored (10,000 jobs of 10, or 1,000 of 100; every operation
// with a result, the jobs archived), against embedded FerretDB with the
// `_id` expression index devstack creates. Each iteration is one page, as
// the API serves it.
func BenchmarkListing100k(b *testing.B) {
	for _, shape := range []struct{ jobs, ops int }{{10_000, 10}, {1_000, 100}} {
		b.Run(fmt.Sprintf("%dx%d", shape.jobs, shape.ops), func(b *testing.B) { benchListing(b, shape.jobs, shape.ops) })
	}
}

func benchListing(b *testing.B, jobs, opsPerJob int) {
	ctx := context.Background()
	s, _ := setup(b)
	var ids []string
	per := 5000 / opsPerJob
	for start := 0; start < jobs; start += per {
		batch := make([]store.NewJob, per)
		for i := range batch {
			for k := range opsPerJob {
				batch[i].Operations = append(batch[i].Operations, store.OpInput{Type: "expr", Request: fmt.Sprintf("%d + %d", start+i, k)})
			}
		}
		var results []store.Result
		for _, c := range s.CreateJobs(ctx, batch) {
			if c.Err != nil {
				b.Fatal(c.Err)
			}
			ids = append(ids, c.Job.ID)
			for _, op := range c.Ops {
				results = append(results, store.Result{ID: op.ID, JobID: op.JobID, State: store.OpSucceeded, Result: "1", CompleteTime: time.Now().UTC(), Offset: int64(len(results))})
			}
		}
		if _, err := s.ApplyResults(ctx, results); err != nil {
			b.Fatal(err)
		}
	}
	mid := ids[len(ids)/2]
	// The position halfway down the listing, as a page token carries it.
	var half *store.ListPosition
	for seen := 0; seen < len(ids)/2; {
		js, next, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 100, After: half})
		if err != nil || next == nil {
			b.Fatalf("walk to the middle: %d jobs, %v", len(js), err)
		}
		seen += len(js)
		half = next
	}
	for _, bc := range []struct {
		name string
		page func() (int, error)
	}{
		{"jobs first page of 50", func() (int, error) {
			js, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 50})
			return len(js), err
		}},
		{"jobs page of 50 from the middle", func() (int, error) {
			js, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 50, After: half})
			return len(js), err
		}},
		{"jobs page of 50 succeeded", func() (int, error) {
			js, _, err := s.ListJobs(ctx, store.ListJobsParams{Limit: 50, States: []store.JobState{store.JobSucceeded}})
			return len(js), err
		}},
		{"operations page of 10", func() (int, error) {
			ops, _, err := s.ListOperations(ctx, store.ListOperationsParams{JobID: mid, Limit: 10})
			return len(ops), err
		}},
		{"operations page of 5 succeeded", func() (int, error) {
			ops, _, err := s.ListOperations(ctx, store.ListOperationsParams{JobID: mid, Start: 5, Limit: 5, States: []store.OpState{store.OpSucceeded}})
			return len(ops), err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				n, err := bc.page()
				if err != nil || n == 0 {
					b.Fatalf("page of %d: %v", n, err)
				}
			}
		})
	}
}
