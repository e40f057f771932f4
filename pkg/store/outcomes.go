package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Whole-job outcome documents.
//
// A job of at most wholeJobMax operations whose every outcome reaches the
// applier in one batch (the common case: a small job's operations share a
// partition, see the client's publisher) has its outcomes stored as one
// document of `results` whose `_id` is the job id, instead of one document
// per operation: FerretDB's cost is mostly per document, and outcomes were
// ten of a W1 job's fourteen documents.
//
// Exactly-once needs one arbiter per operation, and until now that was the
// unique `_id` of its result document. Outcomes are now written in one of two
// ways per job, never both, and the job's own `_id` in `results` decides
// which (first insert wins):
//
//   - whole: the applier inserts `{_id: job, outcomes: [...]}` holding every
//     operation's outcome. If it wins, those are the job's outcomes.
//   - per operation: anyone about to insert per-operation outcomes (the
//     applier for a job split over batches or not created by this process,
//     a cancellation or relay-failure claim) first inserts the marker
//     `{_id: job, per_operation: true}`, or finds it there. From then on the
//     per-operation `_id`s decide, as before.
//
// A whole insert that finds the marker falls back to per-operation inserts;
// a marker insert that finds a whole document knows that every operation
// has its outcome already (a claim claims nothing, an applier's results are
// duplicates). Readers look at the job's document first for jobs that can
// have one (at most wholeJobMax operations) and at per-operation documents
// otherwise. The process remembers the jobs it knows to be per operation
// (perOpKnown), so a marker costs one insert per job and process.

// wholeJobMax is the largest job whose outcomes may be stored whole (the
// client's publisher routes jobs up to this size to one partition).
const wholeJobMax = 64

// wholeJobMaxBytes bounds the results and errors of one whole document; a
// job with more is stored per operation.
const wholeJobMaxBytes = 1 << 20

// jobOutcomesDoc is a job's document in `results` (`_id` = job id): either
// every outcome (Outcomes, by operation index) or the per-operation marker.
type jobOutcomesDoc struct {
	ID           string          `bson:"_id"`
	PerOperation bool            `bson:"per_operation,omitempty"`
	Outcomes     []storedOutcome `bson:"outcomes,omitempty"`
}

// whole reports whether d holds every outcome of a job (not the marker).
func (d *jobOutcomesDoc) whole() bool { return d != nil && !d.PerOperation && len(d.Outcomes) > 0 }

// storedOutcome is one outcome in a whole document, with short keys (every
// key is in each document's JSON, which SQLite parses on every insert).
type storedOutcome struct {
	State        OpState   `bson:"s"`
	Result       string    `bson:"r,omitempty"`
	Error        string    `bson:"e,omitempty"`
	WorkerNode   string    `bson:"w,omitempty"`
	Attempt      int32     `bson:"a,omitempty"`
	CompleteTime time.Time `bson:"t"`
	Partition    int       `bson:"p"`
	Offset       int64     `bson:"o"`
}

func storeOutcome(r *Result) storedOutcome {
	return storedOutcome{State: r.State, Result: r.Result, Error: r.Error, WorkerNode: r.WorkerNode,
		Attempt: r.Attempt, CompleteTime: r.CompleteTime, Partition: r.Partition, Offset: r.Offset}
}

// result returns the outcome of operation index of job jobID.
func (o *storedOutcome) result(jobID string, index int64) *Result {
	return &Result{ID: OperationID(jobID, index), JobID: jobID, State: o.State, Result: o.Result, Error: o.Error,
		WorkerNode: o.WorkerNode, Attempt: o.Attempt, CompleteTime: o.CompleteTime, Partition: o.Partition, Offset: o.Offset}
}

// wholeDoc returns the whole document of a job's results (all of them, one
// per operation, checked by wholeIndexes), or nil if they do not fit one.
func wholeDoc(jobID string, total int64, results []*Result) *jobOutcomesDoc {
	size := 0
	outs := make([]storedOutcome, total)
	for _, r := range results {
		_, index, _ := ParseOperationID(r.ID)
		outs[index] = storeOutcome(r)
		size += len(r.Result) + len(r.Error) + len(r.WorkerNode)
	}
	if size > wholeJobMaxBytes {
		return nil
	}
	return &jobOutcomesDoc{ID: jobID, Outcomes: outs}
}

// coversJob reports whether results (distinct operation ids) are one outcome
// for each operation of j, and j small enough to be stored whole.
func coversJob(j *Job, results []*Result) bool {
	if j.Total > wholeJobMax || int64(len(results)) != j.Total {
		return false
	}
	for _, r := range results {
		jobID, index, err := ParseOperationID(r.ID)
		if err != nil || jobID != j.ID || index >= j.Total || r.JobID != j.ID {
			return false
		}
		switch r.State {
		case OpSucceeded, OpFailed, OpCancelled:
		default:
			return false
		}
	}
	return true
}

// insertOutcomes inserts a batch's outcomes (distinct operation ids) and
// reports for each whether its operation had one already (dup), and which
// jobs this call stored whole (their document is theirs to delete if the
// job turns out deleted). Jobs this process created, whose every outcome is
// in the batch, are stored whole; the others per operation, after their
// marker.
func (s *Store) insertOutcomes(ctx context.Context, batch []Result) (dup []bool, whole map[string]bool, err error) {
	dup = make([]bool, len(batch))
	byJob := map[string][]int{}
	var order []string
	for i := range batch {
		id := batch[i].JobID
		if _, ok := byJob[id]; !ok {
			order = append(order, id)
		}
		byJob[id] = append(byJob[id], i)
	}
	// Whole candidates: created here, all outcomes present, not known to be
	// per operation.
	var wholeIDs []string
	var wholeDocs []any
	var perOp []string
	for _, jobID := range order {
		if j, ok := s.recent.get(jobID); ok && !s.outcomesPerOp && !s.perOpKnown.has(jobID) {
			rs := make([]*Result, len(byJob[jobID]))
			for k, i := range byJob[jobID] {
				rs[k] = &batch[i]
			}
			if coversJob(j, rs) {
				if d := wholeDoc(jobID, j.Total, rs); d != nil {
					wholeIDs = append(wholeIDs, jobID)
					wholeDocs = append(wholeDocs, d)
					continue
				}
			}
		}
		perOp = append(perOp, jobID)
	}
	whole = map[string]bool{}
	// An error after a whole document landed must not lose it: its outcomes
	// are handed to the consumer's retry of the batch, as ApplyResults does
	// for whatever it won but could not count (Store.uncounted), or the
	// retry would take them for another applier's and leave the job to the
	// relay's reconciliation.
	fail := func(err error) ([]bool, map[string]bool, error) {
		for jobID := range whole {
			ids := make([]string, 0, len(byJob[jobID]))
			for _, i := range byJob[jobID] {
				s.uncounted.put(batch[i].ID, batch[i].State)
				ids = append(ids, batch[i].ID)
			}
			s.uncounted.release(ids)
		}
		return nil, nil, err
	}
	if len(wholeDocs) > 0 {
		wdup, err := s.insertNew(ctx, s.results, wholeDocs)
		if err != nil {
			return nil, nil, err
		}
		for k, jobID := range wholeIDs {
			if wdup[k] {
				// The job's document was there already: the marker, or
				// another applier's whole document; openPerOperation tells
				// which.
				perOp = append(perOp, jobID)
			} else {
				whole[jobID] = true
			}
		}
	}
	if len(perOp) == 0 {
		return dup, whole, nil
	}
	wholeElsewhere, err := s.openPerOperation(ctx, perOp)
	if err != nil {
		return fail(err)
	}
	var docs []any
	var at []int
	for _, jobID := range perOp {
		for _, i := range byJob[jobID] {
			if wholeElsewhere[jobID] {
				dup[i] = true
				continue
			}
			docs = append(docs, &batch[i])
			at = append(at, i)
		}
	}
	if len(docs) == 0 {
		return dup, whole, nil
	}
	pdup, err := s.insertNew(ctx, s.results, docs)
	if err != nil {
		return fail(err)
	}
	for k, i := range at {
		dup[i] = pdup[k]
	}
	return dup, whole, nil
}

// openPerOperation makes sure every job of jobIDs stores its outcomes per
// operation (inserting its marker unless this process knows it is there)
// and returns those whose outcomes are already stored whole: such a job's
// operations all have an outcome, so nothing may be inserted for them.
func (s *Store) openPerOperation(ctx context.Context, jobIDs []string) (map[string]bool, error) {
	var unknown []string
	var markers []any
	for _, id := range jobIDs {
		if !s.perOpKnown.has(id) {
			unknown = append(unknown, id)
			markers = append(markers, jobOutcomesDoc{ID: id, PerOperation: true})
		}
	}
	wholeElsewhere := map[string]bool{}
	if len(markers) == 0 {
		return wholeElsewhere, nil
	}
	mdup, err := s.insertNew(ctx, s.results, markers)
	if err != nil {
		return nil, fmt.Errorf("mark outcomes per operation: %w", err)
	}
	var there []string
	for k, id := range unknown {
		if mdup[k] {
			there = append(there, id)
		} else {
			s.perOpKnown.add(id)
		}
	}
	if len(there) == 0 {
		return wholeElsewhere, nil
	}
	docs, err := findByID[jobOutcomesDoc](ctx, s.results, there)
	if err != nil {
		return nil, err
	}
	for k, id := range there {
		switch {
		case docs[k].whole():
			wholeElsewhere[id] = true
		case docs[k] != nil:
			s.perOpKnown.add(id)
		default:
			// Deleted between the insert and the read (DeleteJob): the
			// job is gone, and so are its outcomes; let the per-operation
			// inserts go ahead, the orphan handling removes them.
		}
	}
	return wholeElsewhere, nil
}

// outcomesOf returns the outcomes of operations ids of job j (nil: none
// yet), from its whole document if it has one, else by `_id`.
func (s *Store) outcomesOf(ctx context.Context, j *Job, ids []string) ([]*Result, error) {
	whole, err := s.wholeOf(ctx, j)
	if err != nil {
		return nil, err
	}
	return s.outcomesIn(ctx, whole, j, ids)
}

// wholeOf reads job j's whole outcomes document; nil if it has none (a
// marker, nothing yet, or a job too large to have one).
func (s *Store) wholeOf(ctx context.Context, j *Job) (*jobOutcomesDoc, error) {
	if j.Total > wholeJobMax {
		return nil, nil
	}
	var doc jobOutcomesDoc
	err := s.results.FindOne(ctx, byID(j.ID)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && !doc.whole()) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read outcomes of job %s: %w", j.ID, err)
	}
	return &doc, nil
}

// outcomesIn returns the outcomes of operations ids of job j from whole
// (read by wholeOf) or, when it is nil, by `_id`.
func (s *Store) outcomesIn(ctx context.Context, whole *jobOutcomesDoc, j *Job, ids []string) ([]*Result, error) {
	if whole == nil {
		return findByID[Result](ctx, s.results, ids)
	}
	out := make([]*Result, len(ids))
	for k, id := range ids {
		_, index, err := ParseOperationID(id)
		if err == nil && index >= 0 && index < int64(len(whole.Outcomes)) {
			out[k] = whole.Outcomes[index].result(j.ID, index)
		}
	}
	return out, nil
}

// knownSet is a bounded set of job ids: the jobs this process knows to
// store their outcomes per operation (perOpKnown: their marker is in
// `results`) and those it deleted (deletedHere). Past maxKnownPerOp entries
// it starts over: a job forgotten costs a marker insert (a duplicate), or
// for a deleted one the moment of reappearance DeleteJob describes.
type knownSet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

const maxKnownPerOp = 50_000

func (k *knownSet) has(id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.m[id]
	return ok
}

func (k *knownSet) add(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) >= maxKnownPerOp {
		k.m = map[string]struct{}{}
	}
	k.m[id] = struct{}{}
}
