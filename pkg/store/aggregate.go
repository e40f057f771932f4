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

// Outcome is the state and result of one operation.
type Outcome struct {
	State  OpState `bson:"state"`
	Result string  `bson:"result,omitempty"`
}

// aggregateConcurrency bounds the parallel `_id` lookups of JobOutcomes.
const aggregateConcurrency = 16

// JobOutcomes returns the outcome of every operation of j in index order,
// OpPending for those without one. It reads `results` by `_id` only (one
// indexed lookup per operation, in parallel), projecting state and result:
// FerretDB's aggregation has only $sum/$count, and a filter on job_id
// would scan every job's results.
func (s *Store) JobOutcomes(ctx context.Context, j *Job) ([]Outcome, error) {
	out := make([]Outcome, j.Total)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := options.FindOne().SetProjection(bson.D{{Key: "state", Value: 1}, {Key: "result", Value: 1}})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int64)
	)
	for range min(j.Total, aggregateConcurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var o Outcome
				err := s.results.FindOne(ctx, byID(OperationID(j.ID, i)), opts).Decode(&o)
				switch {
				case errors.Is(err, mongo.ErrNoDocuments):
					o = Outcome{State: OpPending}
				case err != nil:
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("get result: %w", err)
						cancel()
					}
					mu.Unlock()
					continue
				}
				out[i] = o
			}
		}()
	}
feed:
	for i := range j.Total {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
