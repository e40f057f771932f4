package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Outcome is the state and result of one operation.
type Outcome struct {
	State  OpState `bson:"state"`
	Result string  `bson:"result,omitempty"`
}

// JobOutcomes returns the outcome of every operation of j in index order,
// OpPending for those without one. It reads `results` by `_id` only (one
// indexed lookup per operation, in parallel), projecting state and result:
// FerretDB's aggregation has only $sum/$count, and a filter on job_id
// would scan every job's results.
func (s *Store) JobOutcomes(ctx context.Context, j *Job) ([]Outcome, error) {
	out := make([]Outcome, j.Total)
	opts := options.FindOne().SetProjection(bson.D{{Key: "state", Value: 1}, {Key: "result", Value: 1}})
	err := parallel(ctx, int(j.Total), func(ctx context.Context, i int) error {
		err := s.results.FindOne(ctx, byID(OperationID(j.ID, int64(i))), opts).Decode(&out[i])
		if errors.Is(err, mongo.ErrNoDocuments) {
			out[i] = Outcome{State: OpPending}
			return nil
		}
		if err != nil {
			return fmt.Errorf("get result: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
