package store

import (
	"context"
	"fmt"
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
// batch's listing entry, outbox entries, then the job documents (the commit
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
	var opDocs, outboxDocs, jobDocs []any
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
		outboxDocs = append(outboxDocs, outboxDoc{ID: ids[i], CreateTime: now})
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
		if err == nil {
			if _, err = s.insertNew(ctx, s.outbox, outboxDocs); err != nil {
				err = fmt.Errorf("insert outbox entries: %w", err)
			}
		}
		if err == nil {
			if _, err = s.insertNew(ctx, s.active, jobDocs); err != nil {
				err = fmt.Errorf("insert jobs: %w", err)
			}
		}
		if err == nil {
			s.recent.put(jobs...)
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

// MarkPublishedMany deletes the outbox entries of jobs whose operations are
// all in Kafka (deleteSmall: the outbox holds only jobs between their create
// and their publish).
func (s *Store) MarkPublishedMany(ctx context.Context, jobIDs []string) error {
	if _, err := s.deleteSmall(ctx, s.outbox, jobIDs, &s.outboxScanSlowUntil); err != nil {
		return fmt.Errorf("delete outbox entries: %w", err)
	}
	return nil
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
		if err := s.locked(ctx, func() error {
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
