package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// This file holds what the outbox relay of the client service needs: the
// jobs whose operations may not be in Kafka (outbox), the unfinished jobs
// (jobs_active), a per-job record of re-dispatches (dispatches), and the
// operations of a job that still need a message.

// OutboxEntry holds jobs whose operations may not all be in Kafka yet: a
// job created alone (`_id` = job id) or a CreateJobs batch (`_id` =
// "round-{uuid}", JobIDs its jobs).
type OutboxEntry struct {
	ID         string    `bson:"_id"`
	CreateTime time.Time `bson:"create_time"`
	JobIDs     []string  `bson:"job_ids,omitempty"`
}

// Jobs returns the ids of the entry's jobs.
func (e OutboxEntry) Jobs() []string {
	if len(e.JobIDs) > 0 {
		return e.JobIDs
	}
	return []string{e.ID}
}

// Outbox returns the outbox entries (see OutboxAndActive).
func (s *Store) Outbox(ctx context.Context) ([]OutboxEntry, error) {
	outbox, _, err := s.OutboxAndActive(ctx)
	return outbox, err
}

// ActiveJobs returns the unfinished jobs (see OutboxAndActive).
func (s *Store) ActiveJobs(ctx context.Context) ([]*Job, error) {
	_, active, err := s.OutboxAndActive(ctx)
	return active, err
}

// OutboxAndActive reads the two small collections the relay works from,
// each once: the outbox entries, those of the outbox collection and the
// batches' entries in jobs_active (see OutboxLayout), which hold jobs
// between their commit point and the end of their first publication; and
// the unfinished jobs, the rest of jobs_active.
func (s *Store) OutboxAndActive(ctx context.Context) (outbox []OutboxEntry, active []*Job, err error) {
	if outbox, err = findAll[OutboxEntry](ctx, s.outbox); err != nil {
		return nil, nil, err
	}
	docs, err := findAll[bson.Raw](ctx, s.active)
	if err != nil {
		return nil, nil, err
	}
	for _, doc := range docs {
		if id, _ := doc.Lookup("_id").StringValueOK(); IsRoundID(id) {
			var e OutboxEntry
			if err := bson.Unmarshal(doc, &e); err != nil {
				return nil, nil, fmt.Errorf("decode outbox entry %s: %w", id, err)
			}
			outbox = append(outbox, e)
			continue
		}
		j := &Job{}
		if err := bson.Unmarshal(doc, j); err != nil {
			return nil, nil, fmt.Errorf("decode job: %w", err)
		}
		active = append(active, j)
	}
	return outbox, active, nil
}

// findAll reads a whole (small) collection.
func findAll[T any](ctx context.Context, coll *mongo.Collection) ([]T, error) {
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", coll.Name(), err)
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("scan %s: %w", coll.Name(), err)
	}
	return out, nil
}

// RetireArchived removes from jobs_active (RetireJobs) those of active,
// last updated before olderThan, that are archived already: jobs whose
// batched removal a crash of their client service or a MongoDB outage lost
// (see DeferRetire). Their copy in jobs_active has the counters from before
// their last results, so without this the relay would take them for stalled
// jobs and only reconcile them after RELAY_RESULT_TIMEOUT. It returns the
// other jobs. One read by `_id` per job checked.
func (s *Store) RetireArchived(ctx context.Context, active []*Job, olderThan time.Time) ([]*Job, error) {
	aged := slices.DeleteFunc(slices.Clone(active), func(j *Job) bool { return !j.UpdateTime.Before(olderThan) })
	if len(aged) == 0 {
		return active, nil
	}
	archived, err := s.archivedOf(ctx, aged)
	if err != nil {
		return nil, err
	}
	retire := slices.DeleteFunc(archived, func(a *Job) bool { return a == nil })
	if len(retire) == 0 {
		return active, nil
	}
	if _, err := s.RetireJobs(ctx, retire); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(slices.Clone(active), func(j *Job) bool {
		return slices.ContainsFunc(retire, func(a *Job) bool { return a.ID == j.ID })
	}), nil
}

// Dispatch records how often the relay dispatched a job's operations
// (collection `dispatches`, `_id` = job id). A job without one was
// dispatched once, by CreateJob. Only the relay (one lease holder) writes it.
type Dispatch struct {
	JobID string `bson:"_id"`
	// Attempt is the number of the latest dispatch (2 = first re-dispatch).
	Attempt int32 `bson:"attempt"`
	// Time is when it was sent.
	Time time.Time `bson:"dispatch_time"`
}

// Dispatches returns every dispatch record, by job id.
func (s *Store) Dispatches(ctx context.Context) (map[string]Dispatch, error) {
	all, err := findAll[Dispatch](ctx, s.dispatches)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Dispatch, len(all))
	for _, d := range all {
		out[d.JobID] = d
	}
	return out, nil
}

// RecordDispatch stores the latest dispatch of a job (upsert by `_id`).
func (s *Store) RecordDispatch(ctx context.Context, d Dispatch) error {
	err := s.locked(ctx, write{"replace", s.dispatches.Name()}, func() error {
		_, err := s.dispatches.ReplaceOne(ctx, byID(d.JobID), d, options.Replace().SetUpsert(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("record dispatch: %w", err)
	}
	return nil
}

// DeleteDispatch forgets the dispatch record of a finished or deleted job.
func (s *Store) DeleteDispatch(ctx context.Context, jobID string) error {
	if err := s.locked(ctx, write{"delete", s.dispatches.Name()}, func() error { _, err := s.dispatches.DeleteOne(ctx, byID(jobID)); return err }); err != nil {
		return fmt.Errorf("delete dispatch: %w", err)
	}
	return nil
}

// Undone is what a job still needs from the relay.
type Undone struct {
	// Missing are the operations without an outcome: they need a request
	// message.
	Missing []Operation
	// Claims are outcomes stored by the client service itself
	// (cancellations, relay failures) that may not be counted yet: they need
	// a result message to reach the job's single writer.
	Claims []Result
	// Succeeded, Failed and Cancelled count the stored outcomes.
	Succeeded, Failed, Cancelled int64
}

// UndoneOperations reads the outcome of every operation of the job by
// `_id`, then the operations without one, and returns those that still
// need a message. The relay calls it only for jobs that made no progress
// for a while.
func (s *Store) UndoneOperations(ctx context.Context, j *Job) (Undone, error) {
	var u Undone
	whole, err := s.wholeOf(ctx, j)
	if err != nil {
		return u, err
	}
	for start := int64(0); start < j.Total; start += batchSize {
		ids := operationIDs(j.ID, start, min(int64(batchSize), j.Total-start))
		res, err := s.outcomesIn(ctx, whole, j, ids)
		if err != nil {
			return u, err
		}
		// The operations without an outcome (one deleted meanwhile stays nil).
		var noOutcome []int64
		for i, r := range res {
			if r == nil {
				noOutcome = append(noOutcome, start+int64(i))
			}
		}
		missing, err := s.readOperations(ctx, j, noOutcome)
		if err != nil {
			return u, err
		}
		for _, op := range missing {
			if op != nil {
				u.Missing = append(u.Missing, *op)
			}
		}
		for _, r := range res {
			if r == nil {
				continue
			}
			if r.Offset == -1 {
				u.Claims = append(u.Claims, *r)
			}
			switch r.State {
			case OpSucceeded:
				u.Succeeded++
			case OpFailed:
				u.Failed++
			case OpCancelled:
				u.Cancelled++
			}
		}
	}
	return u, nil
}

// ClaimFailed makes the given operations FAILED with reason, if they have
// no outcome yet (the same first-insert-wins race as cancellation), and
// returns the claims it won. Like cancellations, the claims are counted when
// they reach the job's single writer through the response topic.
func (s *Store) ClaimFailed(ctx context.Context, jobID string, opIDs []string, attempt int32, reason string) ([]Result, error) {
	return s.claim(ctx, opIDs, Result{JobID: jobID, State: OpFailed, Error: reason, Attempt: attempt, WorkerNode: "relay"})
}

// claim inserts the outcome tmpl for every operation in opIDs that has none
// yet (unique `_id`: first outcome wins) and returns the claims it won. A
// claim has Partition and Offset -1 until a message through the response
// topic counts it (see ApplyResults).
//
// The job's outcomes are stored per operation from then on: if they are
// stored whole already, every operation has its outcome and nothing is
// claimed (see outcomes.go).
func (s *Store) claim(ctx context.Context, opIDs []string, tmpl Result) ([]Result, error) {
	if len(opIDs) == 0 {
		return nil, nil
	}
	wholeElsewhere, err := s.openPerOperation(ctx, []string{tmpl.JobID})
	if err != nil {
		return nil, err
	}
	if wholeElsewhere[tmpl.JobID] {
		return nil, nil
	}
	tmpl.CompleteTime, tmpl.Partition, tmpl.Offset = s.now(), -1, -1
	docs := make([]any, len(opIDs))
	for i, id := range opIDs {
		r := tmpl
		r.ID = id
		docs[i] = &r
	}
	dup, err := s.insertNew(ctx, s.results, docs)
	if err != nil {
		return nil, err
	}
	var won []Result
	for i, d := range dup {
		if !d {
			won = append(won, *docs[i].(*Result))
		}
	}
	return won, nil
}

// FinishIfDone moves a job whose counters show it finished to `jobs` (a
// crash inside the applier's finish step can leave it in jobs_active) and
// reports whether it did.
func (s *Store) FinishIfDone(ctx context.Context, j *Job) (bool, error) {
	if j.Done() < j.Total {
		return false, nil
	}
	if j.Done() > j.Total {
		// Over-counted (an applier's $inc landed after a reconciliation set
		// the counters): archive the stored truth, once it is complete.
		exact, err := s.recount(ctx, j)
		if err != nil || !exact {
			return false, err
		}
	}
	return true, s.finish(ctx, j)
}

// Reconcile sets the counters of a job whose operations all have an outcome
// (u.Missing empty) to the stored outcomes, and archives it. It first adopts
// every claim, so that a claim message arriving later is not counted again.
// It repairs a job that a crash between storing outcomes and counting them
// left under-counted; the relay calls it only for a job without progress.
// If an applier of the job was only slow (retrying a batch it had won) and
// counts after this, the job is over-counted, which ApplyResults detects
// (more done than total) and corrects from the stored outcomes before
// archiving, so a finished job always holds exact counts. It reports whether
// the counters changed.
func (s *Store) Reconcile(ctx context.Context, j *Job, u Undone) (bool, error) {
	if len(u.Missing) > 0 {
		return false, errors.New("reconcile: operations without an outcome")
	}
	if len(u.Claims) > 0 {
		claims := make([]*Result, len(u.Claims))
		for i := range u.Claims {
			claims[i] = &u.Claims[i]
		}
		if _, err := s.adopt(ctx, claims); err != nil {
			return false, err
		}
	}
	changed, err := s.setCounts(ctx, j, u)
	if err != nil {
		return false, err
	}
	_, err = s.FinishIfDone(ctx, j)
	return changed, err
}
