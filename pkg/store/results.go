package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ApplyStats tells what ApplyResults did with a batch.
type ApplyStats struct {
	// Applied results became their operation's terminal state.
	Applied int
	// Duplicates were dropped because the operation already had an outcome
	// (a redelivery, or a late result after cancellation).
	Duplicates int
	// Orphans were dropped because their job no longer exists.
	Orphans int
	// Completed lists the jobs that reached a terminal state in this batch.
	Completed []*Job
	// Jobs are the jobs touched by the batch, after the update.
	Jobs map[string]*Job
}

// ApplyResults records terminal outcomes, idempotently:
//
//  1. InsertMany (unordered) into `results`, `_id` = operation id, with
//     counted=false. The first outcome of an operation wins; duplicates fail
//     with a duplicate-key error and change nothing.
//  2. Per job, one findAndModify by `_id` adds the new outcomes to the
//     job's counters ($inc). A job that is gone (deleted) has its new result
//     documents removed.
//  3. The counted results are marked counted=true (BulkWrite by `_id`).
//
// If the process dies between 1 and 3, the batch is redelivered (its Kafka
// offset was not committed): the inserts are duplicates, but their result
// documents still say counted=false, so step 2 counts them then. Only the
// stored outcome is counted, never the redelivered one.
func (s *Store) ApplyResults(ctx context.Context, batch []Result) (ApplyStats, error) {
	var st ApplyStats
	if len(batch) == 0 {
		return st, nil
	}
	batch = dedupe(batch)
	docs := make([]any, len(batch))
	for i := range batch {
		batch[i].Counted = false
		docs[i] = &batch[i]
	}
	dup := make([]bool, len(batch))
	_, err := s.results.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil {
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
			return st, fmt.Errorf("insert results: %w", err)
		}
		for _, we := range bwe.WriteErrors {
			if !isDuplicateCode(we.Code) || we.Index < 0 || we.Index >= len(batch) {
				return st, fmt.Errorf("insert results: %w", err)
			}
			dup[we.Index] = true
		}
	}

	// Outcomes to count: the ones inserted now, plus stored ones that a
	// crash left uncounted.
	toCount := make([]*Result, 0, len(batch))
	var dupIDs []string
	for i := range batch {
		if dup[i] {
			dupIDs = append(dupIDs, batch[i].ID)
			continue
		}
		toCount = append(toCount, &batch[i])
	}
	if len(dupIDs) > 0 {
		stored, err := s.findResults(ctx, dupIDs)
		if err != nil {
			return st, err
		}
		for _, r := range stored {
			if r != nil && !r.Counted {
				toCount = append(toCount, r)
			}
		}
		st.Duplicates = len(dupIDs) - countUncounted(stored)
	}

	type delta struct{ succeeded, failed, cancelled int64 }
	deltas := map[string]*delta{}
	var order []string
	for _, r := range toCount {
		d := deltas[r.JobID]
		if d == nil {
			d = &delta{}
			deltas[r.JobID] = d
			order = append(order, r.JobID)
		}
		switch r.State {
		case OpSucceeded:
			d.succeeded++
		case OpFailed:
			d.failed++
		case OpCancelled:
			d.cancelled++
		}
	}
	st.Jobs = make(map[string]*Job, len(order))
	gone := map[string]bool{}
	now := s.now()
	for _, jobID := range order {
		d := deltas[jobID]
		var j Job
		err := s.jobs.FindOneAndUpdate(ctx, byID(jobID), bson.D{
			{Key: "$inc", Value: bson.D{
				{Key: "succeeded", Value: d.succeeded},
				{Key: "failed", Value: d.failed},
				{Key: "cancelled", Value: d.cancelled},
			}},
			{Key: "$set", Value: bson.D{{Key: "update_time", Value: now}}},
		}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&j)
		if errors.Is(err, mongo.ErrNoDocuments) {
			gone[jobID] = true
			continue
		}
		if err != nil {
			return st, fmt.Errorf("update job counters: %w", err)
		}
		if j.Done() >= j.Total && j.CompleteTime == nil {
			if _, err := s.jobs.UpdateOne(ctx, byID(jobID), bson.D{{Key: "$set", Value: bson.D{{Key: "complete_time", Value: now}}}}); err != nil {
				return st, fmt.Errorf("set job complete time: %w", err)
			}
			j.CompleteTime = &now
			st.Completed = append(st.Completed, &j)
		}
		st.Jobs[jobID] = &j
	}

	models := make([]mongo.WriteModel, 0, len(toCount))
	for _, r := range toCount {
		if gone[r.JobID] {
			models = append(models, mongo.NewDeleteOneModel().SetFilter(byID(r.ID)))
			st.Orphans++
			continue
		}
		models = append(models, mongo.NewUpdateOneModel().SetFilter(byID(r.ID)).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "counted", Value: true}}}}))
		st.Applied++
	}
	if len(models) > 0 {
		if _, err := s.results.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
			return st, fmt.Errorf("mark results counted: %w", err)
		}
	}
	return st, nil
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

func countUncounted(rs []*Result) int {
	n := 0
	for _, r := range rs {
		if r != nil && !r.Counted {
			n++
		}
	}
	return n
}

// lookupConcurrency bounds parallel `_id` lookups of one request.
const lookupConcurrency = 8

// findResults loads results by `_id`, one indexed lookup each; missing ones
// are nil.
func (s *Store) findResults(ctx context.Context, ids []string) ([]*Result, error) {
	out := make([]*Result, len(ids))
	err := parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		var r Result
		err := s.results.FindOne(ctx, byID(ids[i])).Decode(&r)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get result: %w", err)
		}
		out[i] = &r
		return nil
	})
	return out, err
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
	owner, _, err := ParseOperationID(opID)
	if err != nil || owner != jobID {
		return nil, fmt.Errorf("operation %s of job %s: %w", opID, jobID, ErrNotFound)
	}
	if _, err := s.GetJob(ctx, jobID); err != nil {
		return nil, err
	}
	views, err := s.operationViews(ctx, []string{opID})
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
	var out []*OperationView
	idx := p.Start
	for idx < j.Total && len(out) < p.Limit && budget > 0 {
		n := min(int64(p.Limit-len(out)), j.Total-idx, budget)
		ids := make([]string, n)
		for k := range n {
			ids[k] = OperationID(p.JobID, idx+k)
		}
		views, err := s.operationViews(ctx, ids)
		if err != nil {
			return nil, -1, err
		}
		for _, v := range views {
			if v != nil && opStateIn(v.State, p.States) {
				out = append(out, v)
			}
		}
		idx += n
		budget -= n
	}
	if idx >= j.Total {
		idx = -1
	}
	return out, idx, nil
}

func opStateIn(s OpState, states []OpState) bool {
	if len(states) == 0 {
		return true
	}
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

// operationViews loads operations and their results by `_id`.
func (s *Store) operationViews(ctx context.Context, ids []string) ([]*OperationView, error) {
	out := make([]*OperationView, len(ids))
	err := parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		var op Operation
		err := s.ops.FindOne(ctx, byID(ids[i])).Decode(&op)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get operation: %w", err)
		}
		v := &OperationView{Operation: op, State: OpPending}
		var r Result
		err = s.results.FindOne(ctx, byID(ids[i])).Decode(&r)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
		case err != nil:
			return fmt.Errorf("get result: %w", err)
		default:
			v.State, v.Result, v.Error, v.WorkerNode, v.Attempt = r.State, r.Result, r.Error, r.WorkerNode, r.Attempt
			ct := r.CompleteTime
			v.CompleteTime = &ct
		}
		out[i] = v
		return nil
	})
	return out, err
}

// Operations loads the stored operations with the given indices of a job
// (missing ones are skipped); used to (re)publish them.
func (s *Store) Operations(ctx context.Context, jobID string, start, end int64) ([]Operation, error) {
	ids := make([]string, 0, end-start)
	for i := start; i < end; i++ {
		ids = append(ids, OperationID(jobID, i))
	}
	views, err := s.operationViews(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Operation, 0, len(views))
	for _, v := range views {
		if v != nil && v.State == OpPending {
			out = append(out, v.Operation)
		}
	}
	return out, nil
}
