package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Applied is the number of results counted in their jobs.
func (st ApplyStats) Applied() int {
	n := 0
	for _, c := range st.ByState {
		n += c
	}
	return n
}

// ApplyStats tells what ApplyResults did with a batch.
type ApplyStats struct {
	// Duplicates were dropped because the operation already had an outcome
	// (a redelivery, or a late result after cancellation).
	Duplicates int
	// Orphans were dropped because their job no longer exists.
	Orphans int
	// ByState counts the applied results by state.
	ByState map[OpState]int
	// Completed lists the jobs that reached a terminal state in this batch.
	Completed []*Job
}

// ApplyResults records the terminal outcomes of a batch of response-topic
// messages (Partition and Offset set on every result), idempotently and
// without transactions:
//
//  1. InsertMany (unordered) into `results`, `_id` = operation id. The first
//     outcome of an operation wins; later ones fail with a duplicate key.
//     A small job created by this process whose every outcome is in the
//     batch has them inserted as one document instead, `_id` = job id,
//     which wins or loses for all of them (see outcomes.go).
//  2. A result counts in its job's counters only if this call won a unique
//     insert for it: the result itself, or, for an outcome the client stored
//     itself (a cancellation or relay failure claim, Offset -1), the claim's
//     adoption (collection `adoptions`, `_id` = operation id). Both are
//     decided by MongoDB's unique `_id`, so two appliers of the same message
//     (a consumer-group rebalance lets the old and the new owner of a
//     partition overlap) can never both count it.
//  3. Per job, one update by `_id` adds the counts ($inc).
//
// If step 3 fails, the process remembers what it won but did not count
// (Store.uncounted) and counts it when the consumer retries the batch. A
// crash between 1 and 3 leaves a job under-counted (never over-counted): its
// replayed messages are duplicates to the next owner. The relay reconciles a
// job that makes no progress by recounting its stored outcomes (Reconcile).
//
// Results of a job are in one partition, so a job normally has a single
// writer (see Job). A job that is gone (deleted) has its new results removed.
func (s *Store) ApplyResults(ctx context.Context, batch []Result) (ApplyStats, error) {
	var st ApplyStats
	if len(batch) == 0 {
		return st, nil
	}
	batch = dedupe(batch)
	dup, whole, err := s.insertOutcomes(ctx, batch)
	if err != nil {
		return st, err
	}

	deltas := map[string]*jobDelta{}
	var order []string
	for i := range batch {
		r := &batch[i]
		d := deltas[r.JobID]
		if d == nil {
			d = &jobDelta{}
			deltas[r.JobID] = d
			order = append(order, r.JobID)
		}
		if dup[i] {
			// Inserted (or adopted) by an earlier call of this process
			// whose counter update failed: that call won the insert, so
			// this retry counts it.
			if state, ok := s.uncounted.take(r.ID); ok {
				d.retried = true
				d.inserted = append(d.inserted, r.ID)
				d.counting = append(d.counting, r.ID)
				d.add(state)
				continue
			}
			d.dups = append(d.dups, i)
			continue
		}
		d.inserted = append(d.inserted, r.ID)
		d.counting = append(d.counting, r.ID)
		s.uncounted.put(r.ID, r.State)
		d.add(r.State)
	}

	// Whatever this call took on but did not count (an error return) is
	// handed back for the consumer's retry of the batch.
	defer func() {
		for _, d := range deltas {
			s.uncounted.release(d.counting)
		}
	}()
	now := s.now()
	var counting []string // jobs with outcomes to count, in batch order
	for _, jobID := range order {
		d := deltas[jobID]
		if len(d.dups) > 0 {
			if err := s.countReplays(ctx, jobID, batch, d.dups, func(id string, state OpState) {
				s.uncounted.put(id, state)
				d.counting = append(d.counting, id)
				d.add(state)
			}, &st); err != nil {
				return st, err
			}
		}
		if d.succeeded+d.failed+d.cancelled > 0 {
			counting = append(counting, jobID)
		}
	}
	// Read the jobs (finds by `_id`, in parallel: reads do not wait for
	// SQLite's single writer), so that a job this batch finishes is archived
	// with its final counters in one insert, without updating its counters
	// first: the read-modify-write of an update is the applier's most
	// expensive write on FerretDB, and most jobs of ten or so operations
	// finish within one batch (their operations share a partition, see the
	// client's publisher). The applier is the single writer of a job's
	// counters (results are keyed by job id), so what it read stays true
	// until it writes.
	current, err := s.currentJobs(ctx, counting, deltas)
	if err != nil {
		return st, err
	}
	var finished []*Job
	var finishedCounting [][]string
	for i, jobID := range counting {
		d := deltas[jobID]
		counted := d.succeeded + d.failed + d.cancelled
		j := current[i]
		deleted := s.deletedHere.has(jobID) // read before this process deleted it: not again
		if deleted {
			j = nil
		}
		if j != nil && d.retried {
			// Some of these outcomes come back from an earlier call of this
			// process whose counter update failed, perhaps after it had
			// landed (a timeout after the write): the counters in
			// jobs_active may hold them already, and adding them again could
			// finish the job early. Set the counters from the stored
			// outcomes instead, as the relay's reconciliation does (rare:
			// it reads every outcome of the job).
			exact, err := s.recount(ctx, j)
			if err != nil {
				return st, err
			}
			s.uncounted.drop(d.counting)
			st.addDelta(d, 1)
			if exact {
				finished = append(finished, j)
				finishedCounting = append(finishedCounting, nil)
				st.Completed = append(st.Completed, j)
			}
			continue
		}
		if j != nil && j.Done()+counted < j.Total {
			var res *mongo.UpdateResult
			if err := s.locked(ctx, write{"update", s.active.Name()}, func() (err error) {
				res, err = s.active.UpdateOne(ctx, byID(jobID), bson.D{
					{Key: "$inc", Value: bson.D{
						{Key: "succeeded", Value: d.succeeded},
						{Key: "failed", Value: d.failed},
						{Key: "cancelled", Value: d.cancelled},
					}},
					{Key: "$set", Value: bson.D{{Key: "update_time", Value: now}}},
				})
				return err
			}); err != nil {
				return st, fmt.Errorf("update job counters: %w", err)
			}
			if res.MatchedCount == 0 {
				j = nil // deleted (or archived) since it was read
			}
		}
		if j == nil {
			if !deleted && s.jobExists(ctx, jobID) {
				// Already finished: every operation had its outcome, so
				// nothing here was new.
				st.Duplicates += int(counted)
				s.uncounted.drop(d.counting)
				continue
			}
			// Deleted job: drop the outcomes inserted now.
			st.Orphans += len(d.inserted)
			// With the job's own document: its whole outcomes, or the
			// per-operation marker this call may have inserted.
			drop := append(slices.Clone(d.inserted), jobID)
			if whole[jobID] {
				drop = []string{jobID}
			}
			if err := s.deleteByID(ctx, s.results, drop); err != nil {
				return st, fmt.Errorf("drop results of deleted job: %w", err)
			}
			s.uncounted.drop(d.counting)
			continue
		}
		j.Succeeded += d.succeeded
		j.Failed += d.failed
		j.Cancelled += d.cancelled
		j.UpdateTime = now
		st.addDelta(d, 1)
		if j.Done() < j.Total {
			s.uncounted.drop(d.counting) // counted by the update above
			continue
		}
		if j.Done() > j.Total {
			// Over-counted: the relay reconciled this job (from its stored
			// outcomes) while this process was retrying a batch whose
			// outcomes it had won. Archive the stored truth instead.
			exact, err := s.recount(ctx, j)
			if err != nil {
				return st, err
			}
			s.uncounted.drop(d.counting)
			if !exact {
				continue // not all outcomes stored: counters corrected, not finished
			}
		}
		finished = append(finished, j)
		finishedCounting = append(finishedCounting, d.counting)
		if j.Done()-counted < j.Total {
			st.Completed = append(st.Completed, j)
		}
	}
	// Finished jobs move to `jobs` together, with their final counters: one
	// insert and one delete for the batch rather than an update and two
	// writes per job. Their outcomes are counted once that lands.
	gone, err := s.finishMany(ctx, finished)
	if err != nil {
		return st, err
	}
	for _, c := range finishedCounting {
		s.uncounted.drop(c)
	}
	for _, id := range gone {
		// Deleted meanwhile (see buryDeleted): its outcomes are gone too.
		st.Completed = slices.DeleteFunc(st.Completed, func(j *Job) bool { return j.ID == id })
		d := deltas[id]
		st.Orphans += len(d.inserted)
		st.addDelta(d, -1)
	}
	return st, nil
}

// jobExists reports whether GetJob finds the job (an error counts as no).
func (s *Store) jobExists(ctx context.Context, jobID string) bool {
	_, err := s.GetJob(ctx, jobID)
	return err == nil
}

// addDelta adds a job's outcomes of this call to ByState, sign times (-1:
// taken back, the job was deleted meanwhile).
func (st *ApplyStats) addDelta(d *jobDelta, sign int) {
	if st.ByState == nil {
		st.ByState = map[OpState]int{}
	}
	st.ByState[OpSucceeded] += sign * int(d.succeeded)
	st.ByState[OpFailed] += sign * int(d.failed)
	st.ByState[OpCancelled] += sign * int(d.cancelled)
}

// currentJobs returns the jobs of counting as they are now (nil: gone from
// jobs_active), reading from jobs_active only those that need it. A job
// this process created lately (s.recent) needs no read when this call counts
// the outcome of every one of its operations: its final counters are
// exactly those outcomes, whatever jobs_active holds meanwhile (a
// reconciliation), and every other field of a job is fixed at its creation.
// A job with duplicates in the batch takes the read path (countReplays).
// If the job was deleted meanwhile, its archive insert brings it back and
// finishMany's buryDeleted removes it again with its outcomes.
func (s *Store) currentJobs(ctx context.Context, counting []string, deltas map[string]*jobDelta) ([]*Job, error) {
	current := make([]*Job, len(counting))
	for i, jobID := range counting {
		d := deltas[jobID]
		if j, ok := s.recent.get(jobID); ok && len(d.dups) == 0 && d.coversAll(j) {
			current[i] = j
		}
	}
	if err := fillByID(ctx, s.active, counting, current); err != nil {
		return nil, err
	}
	return current, nil
}

// recount sets j's counters (in memory and in jobs_active) to its stored
// outcomes and reports whether every operation has one.
func (s *Store) recount(ctx context.Context, j *Job) (bool, error) {
	u, err := s.UndoneOperations(ctx, j)
	if err != nil {
		return false, err
	}
	if _, err := s.setCounts(ctx, j, u); err != nil {
		return false, err
	}
	return len(u.Missing) == 0, nil
}

// setCounts sets j's counters (in memory and in jobs_active, by `_id`) to
// the stored outcomes counted in u, if they differ, and reports whether they
// did.
func (s *Store) setCounts(ctx context.Context, j *Job, u Undone) (bool, error) {
	if j.Succeeded == u.Succeeded && j.Failed == u.Failed && j.Cancelled == u.Cancelled {
		return false, nil
	}
	now := s.now()
	if err := s.locked(ctx, write{"update", s.active.Name()}, func() error {
		_, err := s.active.UpdateOne(ctx, byID(j.ID), bson.D{{Key: "$set", Value: bson.D{
			{Key: "succeeded", Value: u.Succeeded}, {Key: "failed", Value: u.Failed},
			{Key: "cancelled", Value: u.Cancelled}, {Key: "update_time", Value: now},
		}}})
		return err
	}); err != nil {
		return false, fmt.Errorf("set job counters: %w", err)
	}
	j.Succeeded, j.Failed, j.Cancelled, j.UpdateTime = u.Succeeded, u.Failed, u.Cancelled, now
	return true, nil
}

// jobDelta accumulates a batch's effect on one job.
type jobDelta struct {
	succeeded, failed, cancelled int64
	inserted                     []string
	// counting are the outcomes this call counts (won inserts and
	// adoptions), held in Store.uncounted until the counter update lands.
	counting []string
	dups     []int
	// retried: some outcomes came back from an earlier call of this
	// process (Store.uncounted), whose counter update may have landed.
	retried bool
}

// coversAll reports whether the outcomes d counts are one for each
// operation of j: as many as j has, each a valid operation id of j (the batch
// was deduplicated, so they are distinct), each counted in a state.
func (d *jobDelta) coversAll(j *Job) bool {
	if int64(len(d.counting)) != j.Total || d.succeeded+d.failed+d.cancelled != j.Total {
		return false
	}
	for _, id := range d.counting {
		jobID, index, err := ParseOperationID(id)
		if err != nil || jobID != j.ID || index >= j.Total {
			return false
		}
	}
	return true
}

func (d *jobDelta) add(state OpState) {
	switch state {
	case OpSucceeded:
		d.succeeded++
	case OpFailed:
		d.failed++
	case OpCancelled:
		d.cancelled++
	}
}

// countReplays decides which duplicates of a job still need counting and
// calls count with their stored state: only cancellation or relay claims
// (stored by the client service, Offset -1) whose adoption this call wins.
// Any other duplicate is a redelivery, already counted by whoever inserted
// it (or, after a crash, by the relay's reconciliation).
func (s *Store) countReplays(ctx context.Context, jobID string, batch []Result, dups []int, count func(id string, state OpState), st *ApplyStats) error {
	j, err := s.GetJob(ctx, jobID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			st.Orphans += len(dups)
			return nil
		}
		return err
	}
	if j.Done() >= j.Total {
		// Finished (perhaps left in jobs_active by a crash inside finish):
		// nothing can be counted any more.
		st.Duplicates += len(dups)
		_, err := s.FinishIfDone(ctx, j)
		return err
	}
	ids := make([]string, len(dups))
	for k, i := range dups {
		ids[k] = batch[i].ID
	}
	stored, err := findByID[Result](ctx, s.results, ids)
	if err != nil {
		return err
	}
	var claims []*Result
	for _, sr := range stored {
		if sr != nil && sr.Offset == -1 {
			claims = append(claims, sr)
		} else {
			st.Duplicates++ // a redelivery, or deleted meanwhile
		}
	}
	if len(claims) == 0 {
		return nil
	}
	won, err := s.adopt(ctx, claims)
	if err != nil {
		return err
	}
	for k, ok := range won {
		if ok {
			count(claims[k].ID, claims[k].State)
		} else {
			st.Duplicates++
		}
	}
	return nil
}

// dedupe keeps the first result per operation id within a batch.
func dedupe(batch []Result) []Result {
	seen := make(map[string]struct{}, len(batch))
	out := batch[:0:0]
	for _, r := range batch {
		if _, ok := seen[r.ID]; ok {
			continue
		}
		seen[r.ID] = struct{}{}
		out = append(out, r)
	}
	return out
}

// lookupConcurrency bounds parallel `_id` lookups of one request.
const lookupConcurrency = 8

// findByID reads the documents of coll with the given `_id`s, one indexed
// lookup each, in parallel; a missing document is nil. Every by-`_id` batch
// read of the store goes through it (or fillByID).
func findByID[T any](ctx context.Context, coll *mongo.Collection, ids []string, opts ...options.Lister[options.FindOneOptions]) ([]*T, error) {
	out := make([]*T, len(ids))
	return out, fillByID(ctx, coll, ids, out, opts...)
}

// fillByID is findByID for the slots of out that are still nil: it reads
// from coll the documents of those ids only, so that a caller can take some
// documents elsewhere first (another collection, memory). A document not
// found leaves its slot nil.
func fillByID[T any](ctx context.Context, coll *mongo.Collection, ids []string, out []*T, opts ...options.Lister[options.FindOneOptions]) error {
	var holes []int
	for i := range out {
		if out[i] == nil {
			holes = append(holes, i)
		}
	}
	if len(holes) == 0 {
		return nil
	}
	return parallel(ctx, len(holes), func(ctx context.Context, k int) error {
		i := holes[k]
		var v T
		err := coll.FindOne(ctx, byID(ids[i]), opts...).Decode(&v)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", coll.Name(), err)
		}
		out[i] = &v
		return nil
	})
}

// parallel runs fn for 0..n-1 with bounded concurrency and returns the first
// error.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range min(n, lookupConcurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// GetOperation returns an operation of a job with its outcome. An operation
// id that belongs to another job is ErrNotFound.
func (s *Store) GetOperation(ctx context.Context, jobID, opID string) (*OperationView, error) {
	owner, index, err := ParseOperationID(opID)
	if err != nil || owner != jobID {
		return nil, fmt.Errorf("operation %s of job %s: %w", opID, jobID, ErrNotFound)
	}
	j, err := s.GetJob(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if index >= j.Total {
		return nil, fmt.Errorf("operation %s: %w", opID, ErrNotFound)
	}
	res, err := s.outcomesOf(ctx, j, []string{opID})
	if err != nil {
		return nil, err
	}
	views, err := s.operationViews(ctx, j, []int64{index}, res)
	if err != nil {
		return nil, err
	}
	if views[0] == nil {
		return nil, fmt.Errorf("operation %s: %w", opID, ErrNotFound)
	}
	return views[0], nil
}

// ListOperationsParams selects a page of a job's operations.
type ListOperationsParams struct {
	JobID string
	// Start is the first index to look at.
	Start int64
	Limit int
	// States keeps only operations in these states; empty keeps all.
	States []OpState
}

// ListOperations returns up to Limit operations of a job in index order,
// starting at index Start, and the index to continue from (-1 at the end).
// Every document is read by `_id`. With a state filter, at most 10 pages'
// worth of operations are examined per call; the page may then be short but
// the continuation index still advances.
func (s *Store) ListOperations(ctx context.Context, p ListOperationsParams) ([]*OperationView, int64, error) {
	j, err := s.GetJob(ctx, p.JobID)
	if err != nil {
		return nil, -1, err
	}
	budget := int64(p.Limit)
	if len(p.States) > 0 {
		budget *= 10
	}
	// The outcomes decide which operations the page keeps; only those are
	// then read from their documents (each document once), so that a filter
	// does not read whole documents for operations it drops.
	var kept []int64
	var keptRes []*Result
	whole, err := s.wholeOf(ctx, j) // read once for every round below
	if err != nil {
		return nil, -1, err
	}
	idx := p.Start
	for idx < j.Total && len(kept) < p.Limit && budget > 0 {
		n := min(int64(p.Limit-len(kept)), j.Total-idx, budget)
		res, err := s.outcomesIn(ctx, whole, j, operationIDs(j.ID, idx, n))
		if err != nil {
			return nil, -1, err
		}
		for k, r := range res {
			state := OpPending
			if r != nil {
				state = r.State
			}
			if matches(state, p.States) {
				kept = append(kept, idx+int64(k))
				keptRes = append(keptRes, r)
			}
		}
		idx += n
		budget -= n
	}
	var views []*OperationView
	if len(kept) > 0 {
		if views, err = s.operationViews(ctx, j, kept, keptRes); err != nil {
			return nil, -1, err
		}
	}
	out := make([]*OperationView, 0, len(views))
	for _, v := range views {
		if v != nil { // deleted meanwhile
			out = append(out, v)
		}
	}
	if idx >= j.Total {
		idx = -1
	}
	return out, idx, nil
}

// operationViews reads the operations of j at indexes and joins them with
// their outcomes res (res[i] for indexes[i], nil: none yet); an operation
// deleted meanwhile is nil.
func (s *Store) operationViews(ctx context.Context, j *Job, indexes []int64, res []*Result) ([]*OperationView, error) {
	ops, err := s.readOperations(ctx, j, indexes)
	if err != nil {
		return nil, err
	}
	out := make([]*OperationView, len(indexes))
	for i, op := range ops {
		if op == nil {
			continue
		}
		v := &OperationView{Operation: *op, State: OpPending}
		if r := res[i]; r != nil {
			v.State, v.Result, v.Error, v.WorkerNode, v.Attempt = r.State, r.Result, r.Error, r.WorkerNode, r.Attempt
			ct := r.CompleteTime
			v.CompleteTime = &ct
		}
		out[i] = v
	}
	return out, nil
}

type adoptionDoc struct {
	ID    string `bson:"_id"`
	JobID string `bson:"job_id"`
}

// adopt records that this call counts each claim, by inserting its
// adoption, and reports for each whether this call won (first insert wins;
// a claim is counted once, by the winner).
func (s *Store) adopt(ctx context.Context, claims []*Result) ([]bool, error) {
	docs := make([]any, len(claims))
	for k := range claims {
		docs[k] = adoptionDoc{ID: claims[k].ID, JobID: claims[k].JobID}
	}
	dup, err := s.insertNew(ctx, s.adopted, docs)
	if err != nil {
		return nil, err
	}
	won := make([]bool, len(claims))
	for k, d := range dup {
		won[k] = !d
	}
	return won, nil
}

// deleteByID deletes documents one `_id` filter each, in unordered bulk
// writes: an `{_id: {$in: …}}` filter is not pushed down by FerretDB and
// would scan the collection.
func (s *Store) deleteByID(ctx context.Context, coll *mongo.Collection, ids []string) error {
	_, err := s.deleteCountByID(ctx, coll, ids)
	return err
}

// deleteCountByID is deleteByID that returns how many documents it deleted.
func (s *Store) deleteCountByID(ctx context.Context, coll *mongo.Collection, ids []string) (int64, error) {
	var deleted int64
	for start := 0; start < len(ids); start += batchSize {
		chunk := ids[start:min(start+batchSize, len(ids))]
		models := make([]mongo.WriteModel, len(chunk))
		for i, id := range chunk {
			models[i] = mongo.NewDeleteOneModel().SetFilter(byID(id))
		}
		if err := s.locked(ctx, write{"delete", coll.Name()}, func() error {
			res, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
			if res != nil {
				deleted += res.DeletedCount
			}
			return err
		}); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// uncountedSet remembers the outcomes this process inserted or adopted (so
// that only it may count them) whose counter update has not landed yet. An
// entry is busy while a call is counting it: a concurrent call of the same
// process treats it as a plain duplicate, and only a call after a failed
// update (the entry released) takes it over. It is bounded: past
// maxUncounted entries new ones are not remembered, and such a job waits for
// the relay's reconciliation instead.
type uncountedSet struct {
	mu sync.Mutex
	m  map[string]*uncountedEntry
}

type uncountedEntry struct {
	state OpState
	busy  bool
}

const maxUncounted = 200_000

// put records an outcome the caller won and is counting (busy).
func (u *uncountedSet) put(id string, state OpState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]*uncountedEntry{}
	}
	if len(u.m) < maxUncounted {
		u.m[id] = &uncountedEntry{state: state, busy: true}
	}
}

// take hands a released entry to the caller (busy again).
func (u *uncountedSet) take(id string) (OpState, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e, ok := u.m[id]
	if !ok || e.busy {
		return "", false
	}
	e.busy = true
	return e.state, true
}

// drop forgets counted entries.
func (u *uncountedSet) drop(ids []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, id := range ids {
		delete(u.m, id)
	}
}

// release hands entries still present (not counted) back for a retry.
func (u *uncountedSet) release(ids []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, id := range ids {
		if e, ok := u.m[id]; ok {
			e.busy = false
		}
	}
}
