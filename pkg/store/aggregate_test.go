package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// seedResults inserts n succeeded results of a new job, leaving every
// skip-th operation without one (pending), and returns the job.
func seedResults(tb testing.TB, ctx context.Context, db *mongo.Database, n, skip int) *store.Job {
	tb.Helper()
	j := &store.Job{ID: store.NewJobID(), Total: int64(n)}
	docs := make([]any, 0, 1000)
	flush := func() {
		if len(docs) == 0 {
			return
		}
		if _, err := db.Collection("results").InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			tb.Fatal(err)
		}
		docs = docs[:0]
	}
	for i := range n {
		if skip > 0 && i%skip == 0 {
			continue
		}
		state, res := store.OpSucceeded, strconv.Itoa(i)
		if i%10 == 3 {
			state, res = store.OpFailed, ""
		}
		docs = append(docs, store.Result{ID: store.OperationID(j.ID, int64(i)), JobID: j.ID, State: state, Result: res, CompleteTime: time.Now().UTC()})
		if len(docs) == cap(docs) {
			flush()
		}
	}
	flush()
	return j
}

func TestJobOutcomes(t *testing.T) {
	t.Parallel()
	// 50: read by `_id`; 1,200: one query on job_id (outcomeScanMin).
	for _, n := range []int{50, 1200} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { testJobOutcomes(t, n) })
	}
}

func testJobOutcomes(t *testing.T, n int) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j := seedResults(t, ctx, b.db, n, 7)
	// Another job's results in the same collection are not this job's.
	seedResults(t, ctx, b.db, 30, 0)
	out, err := s.JobOutcomes(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != n {
		t.Fatalf("%d outcomes", len(out))
	}
	for i, o := range out {
		want := store.OpSucceeded
		switch {
		case i%7 == 0:
			want = store.OpPending
		case i%10 == 3:
			want = store.OpFailed
		}
		if o.State != want || (want == store.OpSucceeded && o.Result != strconv.Itoa(i)) {
			t.Errorf("outcome %d = %+v, want %s", i, o, want)
		}
	}
	// A cancelled context stops the reads.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.JobOutcomes(cctx, j); err == nil {
		t.Error("cancelled: no error")
	}
}

// BenchmarkJobOutcomes100k reads the outcomes of a 100,000-operation job
// by `_id`, as AggregateJob does, against embedded FerretDB (with the `_id`
// expression index devstack creates).
func BenchmarkJobOutcomes100k(b *testing.B) {
	ctx := context.Background()
	s, bd := setup(b)
	j := seedResults(b, ctx, bd.db, 100_000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := s.JobOutcomes(ctx, j)
		if err != nil || len(out) != 100_000 || out[99_999].State != store.OpSucceeded {
			b.Fatalf("%d outcomes, %v", len(out), err)
		}
	}
}
