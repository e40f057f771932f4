package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// clock is a settable test clock shared by leases.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLease(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	clk := &clock{t: time.Now()}
	const ttl = 10 * time.Second
	a, b := s.NewLease("relay", "a", ttl), s.NewLease("relay", "b", ttl)
	a.SetClock(clk.now)
	b.SetClock(clk.now)
	tick := func(l *store.Lease) bool {
		t.Helper()
		held, err := l.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}

	if !tick(a) || !a.Held() || a.Term() != 1 {
		t.Fatalf("first taker: held=%v term=%d", a.Held(), a.Term())
	}
	if tick(b) || b.Held() {
		t.Fatal("b took a live lease")
	}
	// Renewals keep it: a renews every 5s, b never gets it.
	for range 4 {
		clk.advance(5 * time.Second)
		if !tick(a) || tick(b) {
			t.Fatal("renewed lease lost")
		}
	}
	// a stops renewing: its own view expires before anyone else may take it.
	clk.advance(9 * time.Second)
	if a.Held() {
		t.Fatal("a still holds a lease it could not renew for 9s of a 10s TTL")
	}
	if tick(b) {
		t.Fatal("b took the lease before it expired")
	}
	clk.advance(2 * time.Second)
	if !tick(b) || b.Term() != 2 {
		t.Fatalf("b after expiry: term %d", b.Term())
	}
	// a comes back: it sees the newer term and does not hold.
	if tick(a) || a.Held() || a.Term() != 2 {
		t.Fatalf("a after handover: held=%v term=%d", a.Held(), a.Term())
	}
	// Release hands over at once.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !tick(a) || a.Term() != 3 {
		t.Fatalf("a after release: term %d", a.Term())
	}
	// A newcomer walks the terms and finds a live holder.
	c := s.NewLease("relay", "c", ttl)
	c.SetClock(clk.now)
	if tick(c) || c.Term() != 3 {
		t.Fatalf("newcomer: term %d", c.Term())
	}
}

// TestLeaseContention races many contenders for a free lease: exactly one
// wins (the unique `_id` of the next term decides).
func TestLeaseContention(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := s.NewLease("relay", string(rune('a'+i)), time.Minute)
			held, err := l.Tick(ctx)
			if err != nil {
				t.Error(err)
			}
			won[i] = held
		}()
	}
	wg.Wait()
	winners := 0
	for _, w := range won {
		if w {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d holders of one lease", winners)
	}
}

func TestUndoneAndClaimFailed(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	j, ops, _, err := s.CreateJob(ctx, newJob("1", "2", "3", "4"))
	if err != nil {
		t.Fatal(err)
	}
	// op0 succeeded (counted, then delivered again); op1..op3 have no outcome.
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1")}); err != nil {
		t.Fatal(err)
	}
	u, err := s.UndoneOperations(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Missing) != 3 || len(u.Claims) != 0 || u.Missing[0].ID != ops[1].ID || u.Missing[0].Request != "2" {
		t.Fatalf("undone = %+v", u)
	}
	won, err := s.ClaimFailed(ctx, j.ID, []string{ops[0].ID, ops[2].ID, ops[3].ID}, 5, "given up")
	if err != nil || len(won) != 2 || won[0].ID != ops[2].ID || won[0].State != store.OpFailed || won[0].Offset != -1 {
		t.Fatalf("claim failed: %+v %v", won, err)
	}
	u, err = s.UndoneOperations(ctx, j)
	if err != nil || len(u.Missing) != 1 || len(u.Claims) != 2 {
		t.Fatalf("undone after claims = %+v %v", u, err)
	}
	v, err := s.GetOperation(ctx, j.ID, ops[2].ID)
	if err != nil || v.State != store.OpFailed || v.Error != "given up" || v.Attempt != 5 {
		t.Fatalf("failed op = %+v %v", v, err)
	}
	// The claims are counted once when their messages reach the applier,
	// even when a message is delivered twice; a late real result loses.
	msgs := []store.Result{result(ops[2].ID, store.OpFailed, ""), result(ops[3].ID, store.OpFailed, "")}
	for range 2 {
		if _, err := s.ApplyResults(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[3].ID, store.OpSucceeded, "4"), result(ops[1].ID, store.OpSucceeded, "2")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil || got.Succeeded != 2 || got.Failed != 2 || got.State() != store.JobFailed {
		t.Fatalf("job = %+v %v", got, err)
	}
	if done, err := s.FinishIfDone(ctx, got); err != nil || !done {
		t.Fatalf("finish: %v %v", done, err)
	}
	active, err := s.ActiveJobs(ctx)
	if err != nil || len(active) != 0 {
		t.Fatalf("active = %v %v", active, err)
	}
}

func TestOutboxAndDispatches(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	ctx := t.Context()
	j, _, _, err := s.CreateJob(ctx, newJob("1"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Outbox(ctx)
	if err != nil || len(out) != 1 || out[0].ID != j.ID {
		t.Fatalf("outbox = %+v %v", out, err)
	}
	if err := s.MarkPublished(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Outbox(ctx); len(out) != 0 {
		t.Fatalf("outbox after publish = %+v", out)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, a := range []int32{2, 3} {
		if err := s.RecordDispatch(ctx, store.Dispatch{JobID: j.ID, Attempt: a, Time: now}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Dispatches(ctx)
	if err != nil || d[j.ID].Attempt != 3 || !d[j.ID].Time.Equal(now) {
		t.Fatalf("dispatches = %+v %v", d, err)
	}
	if err := s.DeleteDispatch(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Dispatches(ctx); len(d) != 0 {
		t.Fatalf("dispatches after delete = %+v", d)
	}
}

// TestOverlappingAppliersNeverOverCount applies the same messages from
// several appliers at once, as two owners of a partition do when a
// rebalance lets them overlap: every count is decided by a unique insert, so
// the job is never over-counted; a lost update (FerretDB's read-modify-write)
// can under-count, which Reconcile repairs.
func TestOverlappingAppliersNeverOverCount(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	reqs := make([]string, 40)
	for i := range reqs {
		reqs[i] = "1"
	}
	j, ops, _, err := s.CreateJob(ctx, newJob(reqs...))
	if err != nil {
		t.Fatal(err)
	}
	// The last 10 are cancelled by the client (claims), the rest get results.
	var batch []store.Result
	for _, op := range ops[:30] {
		batch = append(batch, result(op.ID, store.OpSucceeded, "1"))
	}
	if _, _, err := s.ClaimCancelled(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	// ClaimCancelled claimed all 40: take the first 30 back so that they
	// get real results (as if the results had won the race).
	for _, op := range ops[:30] {
		if _, err := b.db.Collection("results").DeleteOne(ctx, bson.D{{Key: "_id", Value: op.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range ops[30:] {
		batch = append(batch, result(op.ID, store.OpCancelled, ""))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.ApplyResults(ctx, batch); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Succeeded > 30 || got.Cancelled > 10 {
		t.Fatalf("over-counted: %+v", got)
	}
	if got.Done() < got.Total {
		u, err := s.UndoneOperations(ctx, got)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reconcile(ctx, got, u); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetJob(ctx, j.ID)
	}
	if got.Succeeded != 30 || got.Cancelled != 10 || got.State() != store.JobCancelled {
		t.Fatalf("job = %+v", got)
	}
	// A late claim message after reconciliation counts nothing.
	st, err := s.ApplyResults(ctx, batch[30:])
	if err != nil || st.Applied() != 0 {
		t.Fatalf("late claims: %+v %v", st, err)
	}
}

// TestOverCountCorrectedBeforeArchive: a job whose counters went past its
// total (a reconciliation racing a slow applier) is archived with the
// counts of its stored outcomes.
func TestOverCountCorrectedBeforeArchive(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := t.Context()
	j, ops, _, err := s.CreateJob(ctx, newJob("1", "2", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyResults(ctx, []store.Result{result(ops[0].ID, store.OpSucceeded, "1"), result(ops[1].ID, store.OpFailed, "")}); err != nil {
		t.Fatal(err)
	}
	// A stray count lands: one more than the stored outcomes.
	if _, err := b.db.Collection("jobs_active").UpdateOne(ctx, bson.D{{Key: "_id", Value: j.ID}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "succeeded", Value: 1}}}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.ApplyResults(ctx, []store.Result{result(ops[2].ID, store.OpSucceeded, "3")})
	if err != nil || len(st.Completed) != 1 {
		t.Fatalf("last result: %+v %v", st, err)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil || got.Succeeded != 2 || got.Failed != 1 || got.Done() != 3 || got.State() != store.JobFailed {
		t.Fatalf("archived job = %+v %v", got, err)
	}
	if n, _ := b.db.Collection("jobs_active").CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("jobs_active holds %d", n)
	}
}
