package client

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"github.com/jobplane/jobplane/pkg/store"
)

// AggregateJob reads the outcome of every operation by `_id` and computes
// the statistics of the numeric results here: FerretDB's $group has only
// $sum and $count. Percentiles are exact (nearest rank).
func (s *jobService) AggregateJob(ctx context.Context, req *jobsv1.AggregateJobRequest) (*jobsv1.AggregateJobResponse, error) {
	if err := checkJobID("id", req.GetId()); err != nil {
		return nil, err
	}
	j, err := s.getJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	outcomes, err := s.store.JobOutcomes(ctx, j)
	if err != nil {
		return nil, err
	}
	resp := aggregateOutcomes(outcomes)
	resp.JobId = j.ID
	// The job's counters may trail the stored outcomes by a moment; the
	// outcomes decide is_partial and pending.
	resp.State = jobStates[j.State()]
	if resp.Pending == 0 && !j.State().Terminal() {
		resp.State = jobsv1.JobState_JOB_STATE_RUNNING
	}
	return resp, nil
}

// aggregateOutcomes computes count, sum, mean, min, max and percentiles of
// the numeric results among outcomes.
func aggregateOutcomes(outcomes []store.Outcome) *jobsv1.AggregateJobResponse {
	resp := &jobsv1.AggregateJobResponse{}
	values := make([]float64, 0, len(outcomes))
	var pending, failed, cancelled, nonNumeric int64
	for _, o := range outcomes {
		switch o.State {
		case store.OpSucceeded:
			v, err := strconv.ParseFloat(strings.TrimSpace(o.Result), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				nonNumeric++
				continue
			}
			values = append(values, v)
		case store.OpFailed:
			failed++
		case store.OpCancelled:
			cancelled++
		default:
			pending++
		}
	}
	resp.Pending, resp.Failed, resp.Cancelled, resp.NonNumeric = count32(pending), count32(failed), count32(cancelled), count32(nonNumeric)
	resp.IsPartial = pending > 0
	resp.Count = count32(int64(len(values)))
	if len(values) == 0 {
		return resp
	}
	slices.Sort(values)
	sum := 0.0
	for _, v := range values {
		sum += v
	}
	resp.Sum, resp.Mean = sum, sum/float64(len(values))
	resp.Min, resp.Max = values[0], values[len(values)-1]
	resp.P50, resp.P90, resp.P99 = nearestRank(values, 0.50), nearestRank(values, 0.90), nearestRank(values, 0.99)
	return resp
}

// nearestRank is the p-quantile of sorted values by the nearest-rank method.
func nearestRank(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
