package store

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Outcome is the state and result of one operation.
type Outcome struct {
	State  OpState `bson:"state"`
	Result string  `bson:"result,omitempty"`
}

// JobOutcomes returns the outcome of every operation of j in index order,
// OpPending for those without one, reading state and result only.
//
// A small job's results are read by `_id` (one indexed lookup per
// operation, in parallel). A job of outcomeScanMin operations or more is
// read with one query on job_id instead: FerretDB pushes that equality down
// to SQLite, which scans the collection in C and hands over only the job's
// documents, far cheaper than that many lookups (measured at 100,000
// operations: about 80 s by `_id`; see BenchmarkJobOutcomes100k for the
// query). This is analytics, not a hot path, so a scan is acceptable.
func (s *Store) JobOutcomes(ctx context.Context, j *Job) ([]Outcome, error) {
	if j.Total >= outcomeScanMin {
		return s.jobOutcomesByQuery(ctx, j)
	}
	whole, err := s.wholeOf(ctx, j)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, j.Total)
	if whole != nil {
		for i := range out {
			out[i] = Outcome{State: OpPending}
			if i < len(whole.Outcomes) {
				out[i] = Outcome{State: whole.Outcomes[i].State, Result: whole.Outcomes[i].Result}
			}
		}
		return out, nil
	}
	found, err := findByID[Outcome](ctx, s.results, operationIDs(j.ID, 0, j.Total),
		options.FindOne().SetProjection(bson.D{{Key: "state", Value: 1}, {Key: "result", Value: 1}}))
	if err != nil {
		return nil, err
	}
	for i, o := range found {
		if o == nil {
			out[i] = Outcome{State: OpPending}
		} else {
			out[i] = *o
		}
	}
	return out, nil
}

// outcomeScanMin is the job size from which JobOutcomes queries job_id
// instead of looking every operation up by `_id`.
const outcomeScanMin = 1000

func (s *Store) jobOutcomesByQuery(ctx context.Context, j *Job) ([]Outcome, error) {
	out := make([]Outcome, j.Total)
	for i := range out {
		out[i].State = OpPending
	}
	cur, err := s.results.Find(ctx, bson.D{{Key: "job_id", Value: j.ID}},
		options.Find().SetProjection(bson.D{{Key: "state", Value: 1}, {Key: "result", Value: 1}}).SetBatchSize(10_000))
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var r struct {
			ID      string `bson:"_id"`
			Outcome `bson:",inline"`
		}
		if err := cur.Decode(&r); err != nil {
			return nil, fmt.Errorf("decode result: %w", err)
		}
		jobID, idx, perr := ParseOperationID(r.ID)
		if perr != nil || jobID != j.ID || idx < 0 || idx >= j.Total {
			continue
		}
		out[idx] = r.Outcome
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	return out, nil
}
