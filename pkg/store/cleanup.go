package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// OutboxLayout is where CreateJobs writes the outbox entry of a batch of
// jobs: the record that the batch's operations may not all be in Kafka yet,
// which the relay reads when the entry outlives RELAY_OUTBOX_DELAY.
type OutboxLayout int

const (
	// OutboxBatch (the default) writes one entry per batch of several jobs
	// into the outbox collection (a job created alone gets an entry of its
	// own, `_id` = job id).
	OutboxBatch OutboxLayout = iota
	// OutboxActive writes one entry per batch, `_id` "round-{uuid}", into
	// jobs_active, in the same InsertMany as the batch's jobs, and deletes
	// it together with archived jobs (CleanUp): no write of its own either
	// way. Measured on the embedded default: W1 13 % faster, but job
	// latency at 70 % of the peak worse (p95 58-70 ms against 39-56 ms at
	// 7,000 operations/s; BENCHMARKS.md), hence not the default. Versions
	// before 2026-12-06 would read these entries as jobs: turn it on once
	// no replica of one is left.
	OutboxActive
	// OutboxJob writes an entry per job into the outbox collection, as
	// versions before 2026-12-05 did.
	OutboxJob
)

// roundPrefix starts the `_id` of a batch's outbox entry. Job ids are
// UUIDs (ValidJobID), so no job id has it.
const roundPrefix = "round-"

// newRoundID returns the `_id` of a new batch's outbox entry.
func newRoundID() string { return roundPrefix + NewJobID() }

// IsRoundID reports whether id is that of a batch's outbox entry, rather
// than a job's.
func IsRoundID(id string) bool { return strings.HasPrefix(id, roundPrefix) }

// CleanUp does the client service's background deletes in as few writes as
// it can: the outbox entries of the published jobs (MarkPublishedMany) and
// the archived jobs to retire from jobs_active (RetireJobs, whose result it
// returns). With OutboxActive, the entries of this process's batches are
// in jobs_active, and go in the retirement's DeleteMany: one scan of
// jobs_active for both instead of an outbox insert and delete per batch.
// Entries of other layouts (jobs created alone by CreateJob, split by the
// relay, or written by another replica) are deleted from the outbox
// collection, in a write of their own.
func (s *Store) CleanUp(ctx context.Context, published []string, retired []*Job) (gone []string, err error) {
	var outboxIDs, activeIDs []string
	for _, id := range s.rounds.published(published) {
		// The rounds tracked are this process's, written in its layout.
		if s.outboxLayout == OutboxActive && IsRoundID(id) {
			activeIDs = append(activeIDs, id)
		} else {
			outboxIDs = append(outboxIDs, id)
		}
	}
	var errs []error
	if len(outboxIDs) > 0 {
		if _, err := s.deleteSmall(ctx, s.outbox, outboxIDs, &s.outboxScanSlowUntil); err != nil {
			errs = append(errs, fmt.Errorf("delete outbox entries: %w", err))
		}
	}
	gone, err = s.retireJobs(ctx, retired, activeIDs)
	if err != nil {
		errs = append(errs, err)
	}
	return gone, errors.Join(errs...)
}
