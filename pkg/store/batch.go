package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Created is the outcome of one job of a CreateJobs batch, as CreateJob
// returns it.
type Created struct {
	Job     *Job
	Ops     []Operation
	Created bool
	Err     error
}

// CreateJobs stores several jobs with one write per collection instead of
// several per job (group commit: FerretDB on SQLite serializes writes, and
// an InsertMany of 100 documents costs about as much as 5 of 10). The writes
// and their order are CreateJob's: request_id claims, operations with the
// batch's listing entry, one outbox entry for the batch, then the job documents (the commit
// point of each job). A job
// whose request_id was already claimed, by an earlier request or by another
// job of this batch, takes CreateJob's path after the batch, which returns
// the earlier job or ErrRequestIDConflict. An error of a batch write fails
// every job of the batch not yet committed; as with CreateJob, a retry with
// the same request_id converges.
func (s *Store) CreateJobs(ctx context.Context, batch []NewJob) []Created {
	out := make([]Created, len(batch))
	ids := make([]string, len(batch))
	slow := make([]bool, len(batch))
	fail := func(err error) []Created {
		for i := range out {
			out[i].Err = err
		}
		return out
	}

	var claims []any
	var claimIdx []int
	for i := range batch {
		ids[i] = NewJobID()
		if batch[i].RequestID != "" {
			claims = append(claims, requestDoc{ID: batch[i].RequestID, JobID: ids[i], Fingerprint: batch[i].fingerprint(), CreateTime: s.now()})
			claimIdx = append(claimIdx, i)
		}
	}
	if len(claims) > 0 {
		dup, err := s.insertNew(ctx, s.requests, claims)
		if err != nil {
			return fail(fmt.Errorf("claim request_id: %w", err))
		}
		for k, d := range dup {
			slow[claimIdx[k]] = d
		}
	}

	now := s.now()
	var opDocs, jobDocs []any
	var jobs []*Job
	var fresh []string // the ids of jobs
	for i := range batch {
		if slow[i] {
			continue
		}
		n := &batch[i]
		j := &Job{ID: ids[i], RequestID: n.RequestID, PartitionKey: n.PartitionKey, Total: int64(len(n.Operations)),
			CreateTime: now, UpdateTime: now, OpsPerDoc: s.opsPerDoc(n.Operations)}
		ops := newOperations(j, n.Operations)
		opDocs = append(opDocs, operationDocs(j, ops)...)
		out[i] = Created{Job: j, Ops: ops, Created: true}
		jobDocs = append(jobDocs, j)
		jobs = append(jobs, j)
		fresh = append(fresh, j.ID)
	}
	if len(jobs) > 0 {
		// Job ids are new, so nothing of them exists yet: a duplicate is
		// impossible here, and insertNew's tolerance of them is moot.
		entry, err := s.insertOpsListed(ctx, opDocs, fresh)
		for _, j := range jobs {
			j.ListingEntry = &entry
		}
		// One outbox entry for the batch, removed once every job of the
		// batch is published (see OutboxLayout). In jobs_active it comes
		// first in the jobs' insert: FerretDB inserts the documents in
		// order, up to 100 per transaction, so whatever a crash leaves, a
		// job committed has its entry. Elsewhere it is a write of its own,
		// before the jobs'.
		var outbox []any
		round := ""
		switch {
		case s.outboxLayout == OutboxActive:
			round = newRoundID()
			jobDocs = append([]any{OutboxEntry{ID: round, CreateTime: now, JobIDs: fresh}}, jobDocs...)
		case s.outboxLayout == OutboxBatch && len(fresh) > 1:
			round = newRoundID()
			outbox = []any{OutboxEntry{ID: round, CreateTime: now, JobIDs: fresh}}
		default:
			outbox = ownOutboxEntries(fresh, now)
		}
		if err == nil && len(outbox) > 0 {
			if _, err = s.insertNew(ctx, s.outbox, outbox); err != nil {
				err = fmt.Errorf("insert outbox entry: %w", err)
			}
		}
		if err == nil {
			if _, err = s.insertNew(ctx, s.active, jobDocs); err != nil {
				err = fmt.Errorf("insert jobs: %w", err)
			}
		}
		if err == nil {
			s.recent.put(jobs...)
			if round != "" {
				s.rounds.add(round, fresh)
			}
		}
		if err != nil {
			for i := range out {
				if !slow[i] {
					out[i] = Created{Err: err}
				}
			}
		}
	}

	for i := range batch {
		if slow[i] {
			j, ops, created, err := s.CreateJob(ctx, batch[i])
			out[i] = Created{Job: j, Ops: ops, Created: created, Err: err}
		}
	}
	return out
}

// MarkPublishedMany records that every operation of these jobs is in Kafka:
// it deletes the outbox entry of a job created alone, and that of a
// CreateJobs batch once all of the batch's jobs are published (deleteSmall:
// the outbox holds only jobs between their create and their publish).
func (s *Store) MarkPublishedMany(ctx context.Context, jobIDs []string) error {
	_, err := s.CleanUp(ctx, jobIDs, nil)
	return err
}

// PublishDeferred leaves the publication of job j to the relay (its publish
// failed). A job of a CreateJobs batch gets an outbox entry of its own and
// counts as done in its batch, so that the batch's entry still goes once
// the other jobs are published: the relay then publishes j alone, rather
// than every unfinished job of the batch. If that insert fails, the batch's
// entry stays for the relay. A job created alone has its own entry already.
func (s *Store) PublishDeferred(ctx context.Context, j *Job) {
	if !s.rounds.tracks(j.ID) {
		return
	}
	if _, err := s.insertNew(ctx, s.outbox, ownOutboxEntries([]string{j.ID}, j.CreateTime)); err != nil {
		s.rounds.forget(j.ID)
		return
	}
	// If it was the last of its batch, the batch's entry goes now (its own
	// entry is not tracked); if that fails, the relay finds the batch's
	// other jobs published or finished.
	_, _ = s.CleanUp(ctx, []string{j.ID}, nil)
}

// SplitOutboxEntry replaces a batch's outbox entry e by entries of their own
// for the jobs keep (those the relay failed to publish), so that the jobs of
// the batch published meanwhile are not published again at every scan.
func (s *Store) SplitOutboxEntry(ctx context.Context, e OutboxEntry, keep []string) error {
	if _, err := s.insertNew(ctx, s.outbox, ownOutboxEntries(keep, e.CreateTime)); err != nil {
		return fmt.Errorf("split outbox entry: %w", err)
	}
	return s.MarkPublished(ctx, e.ID)
}

// ownOutboxEntries returns an outbox entry of its own (`_id` = job id) for
// each of jobIDs.
func ownOutboxEntries(jobIDs []string, created time.Time) []any {
	docs := make([]any, len(jobIDs))
	for i, id := range jobIDs {
		docs[i] = OutboxEntry{ID: id, CreateTime: created}
	}
	return docs
}

// outboxRounds tracks the outbox entries of this process's CreateJobs
// batches: which batch each job is in, and how many of its jobs are not
// published yet. One entry per batch instead of one per job: the outbox
// insert and its deletion cost FerretDB per document (W1: 8 % of the write
// lock for the insert, 3 % for the deletion). A batch forgotten (a publish
// that failed, a process restart, the bound) keeps its entry for the relay.
type outboxRounds struct {
	mu    sync.Mutex
	byJob map[string]*outboxRound
}

type outboxRound struct {
	id      string
	jobs    []string
	pending int
}

// maxRoundJobs bounds the jobs tracked; past it the tracker starts over
// (the entries it forgets are left to the relay).
const maxRoundJobs = 100_000

func (r *outboxRounds) add(id string, jobs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byJob == nil || len(r.byJob)+len(jobs) > maxRoundJobs {
		r.byJob = map[string]*outboxRound{}
	}
	round := &outboxRound{id: id, jobs: jobs, pending: len(jobs)}
	for _, j := range jobs {
		r.byJob[j] = round
	}
}

// published returns the outbox entries to delete now that jobIDs are
// published: the entries of jobs not tracked (their own, `_id` = job id) and
// those of batches whose last job this is.
func (r *outboxRounds) published(jobIDs []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, j := range jobIDs {
		round, ok := r.byJob[j]
		if !ok {
			ids = append(ids, j)
			continue
		}
		delete(r.byJob, j)
		if round.pending--; round.pending == 0 {
			ids = append(ids, round.id)
		}
	}
	return ids
}

// tracks reports whether jobID is a job of a tracked batch.
func (r *outboxRounds) tracks(jobID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byJob[jobID]
	return ok
}

// forget stops tracking the batch of jobID: its entry stays for the relay.
func (r *outboxRounds) forget(jobID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if round, ok := r.byJob[jobID]; ok {
		for _, j := range round.jobs {
			delete(r.byJob, j)
		}
	}
}

// deleteSmall deletes the documents of ids from a collection that is
// usually small (the outbox, jobs_active) and returns how many it deleted.
// Usually with one DeleteMany on `_id` $in per batchSize ids: on FerretDB
// that filter scans the collection, but per document a delete by `_id`
// costs far more (measured under W1: 0.35-0.5 ms per document, about as
// much as six inserted documents). When a scan costs more than deleting by
// `_id` would have (a backlog after a Kafka outage; see scanJudgedIDs), it
// deletes by `_id` for the next minute (slowUntil, unix nanoseconds, one per
// collection).
func (s *Store) deleteSmall(ctx context.Context, coll *mongo.Collection, ids []string, slowUntil *atomic.Int64) (int64, error) {
	var deleted int64
	for start := 0; start < len(ids); start += batchSize {
		chunk := ids[start:min(start+batchSize, len(ids))]
		if time.Now().UnixNano() < slowUntil.Load() {
			n, err := s.deleteCountByID(ctx, coll, chunk)
			deleted += n
			if err != nil {
				return deleted, err
			}
			continue
		}
		var took time.Duration
		if err := s.locked(ctx, write{"delete", coll.Name()}, func() error {
			began := time.Now()
			res, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}})
			took = time.Since(began)
			if res != nil {
				deleted += res.DeletedCount
			}
			return err
		}); err != nil {
			return deleted, err
		}
		if took > time.Duration(max(len(chunk), scanJudgedIDs))*deleteByIDCost {
			slowUntil.Store(time.Now().Add(time.Minute).UnixNano())
		}
	}
	return deleted, nil
}

// scanJudgedIDs: deleteSmall judges a scan against deleting at least this
// many documents by `_id`, the size of a lingering caller's batch under load
// (the client's groupcommit.Linger), so that a batch of a few ids at a quiet
// moment, whose scan costs more than deleting them one by one, does not
// switch a collection of a hundred documents to deletes by `_id` for a
// minute (measured under W1: jobs_active's batches of 60 then cost 14 ms
// instead of 6).
const scanJudgedIDs = 50

// deleteByIDCost is about what deleting one document by `_id` costs on
// FerretDB (measured: 0.2-0.5 ms).
const deleteByIDCost = 400 * time.Microsecond
