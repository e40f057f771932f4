package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jobplane/jobplane/pkg/env"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
)

// RelayConfig configures the outbox relay. RelayConfigFromEnv documents the
// environment variable of each field.
type RelayConfig struct {
	// Interval between two scans by the lease holder (RELAY_INTERVAL, 5s).
	Interval time.Duration
	// LeaseTTL is how long a relay lease lasts without renewal
	// (RELAY_LEASE_TTL, 15s): the longest a dead holder delays handover.
	LeaseTTL time.Duration
	// OutboxDelay is the age at which an outbox entry (a job whose first
	// publication did not finish) is published by the relay
	// (RELAY_OUTBOX_DELAY, 30s).
	OutboxDelay time.Duration
	// ResultTimeout is how long a job may go without any applied result
	// before its unfinished operations are dispatched again
	// (RELAY_RESULT_TIMEOUT, 2m). It doubles with every re-dispatch of the
	// same job (capped at 16×), so a long queue is not flooded with copies.
	ResultTimeout time.Duration
	// MaxAttempts is the number of dispatches after which the operations
	// still without a result FAIL (RELAY_MAX_ATTEMPTS, 5).
	MaxAttempts int
}

// RelayConfigFromEnv reads the relay settings; errors are collected in r.
func RelayConfigFromEnv(r *env.Reader) RelayConfig {
	return RelayConfig{
		Interval:      r.Duration("RELAY_INTERVAL", 5*time.Second),
		LeaseTTL:      r.Duration("RELAY_LEASE_TTL", 15*time.Second),
		OutboxDelay:   r.Duration("RELAY_OUTBOX_DELAY", 30*time.Second),
		ResultTimeout: r.Duration("RELAY_RESULT_TIMEOUT", 2*time.Minute),
		MaxAttempts:   r.Int("RELAY_MAX_ATTEMPTS", 5),
	}
}

func (c *RelayConfig) validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"RELAY_INTERVAL": c.Interval, "RELAY_LEASE_TTL": c.LeaseTTL,
		"RELAY_OUTBOX_DELAY": c.OutboxDelay, "RELAY_RESULT_TIMEOUT": c.ResultTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%s: want > 0", name, d))
		}
	}
	if c.LeaseTTL > 0 && c.LeaseTTL < 300*time.Millisecond {
		errs = append(errs, fmt.Errorf("RELAY_LEASE_TTL=%s: want >= 300ms", c.LeaseTTL))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		errs = append(errs, fmt.Errorf("RELAY_MAX_ATTEMPTS=%d: want 1..100", c.MaxAttempts))
	}
	return errors.Join(errs...)
}

// relay repairs what a crash or a lost message leaves behind, so that every
// acknowledged operation reaches a terminal state:
//
//   - an outbox entry older than OutboxDelay (the client died or Kafka
//     failed between storing a job and publishing it): the job's unfinished
//     operations are published, then the entry is deleted;
//   - an unfinished job without an applied result for ResultTimeout (a
//     broker lost messages, or the cancellations of a CancelJob were never
//     published): operations without an outcome are published again with
//     the next attempt number, and outcomes the client service stored itself
//     but that may not be counted (cancellations) are sent again through the
//     response topic; after MaxAttempts dispatches the operations still
//     without an outcome FAIL with a clear error;
//   - an unfinished job whose operations all have an outcome (a crash
//     between storing outcomes and counting them): its counters are set from
//     the stored outcomes and it is archived (store.Reconcile);
//   - a finished job left in jobs_active by a crash is moved to jobs.
//
// Exactly one client instance runs it at a time: the holder of the "relay"
// lease (see store.Lease). Everything it does is idempotent (messages are
// at-least-once anyway, outcomes are first-insert-wins), so a brief overlap
// of two holders during a handover costs duplicates, never correctness.
type relay struct {
	cfg       RelayConfig
	store     *store.Store
	publisher *publisher
	metrics   *telemetry.Metrics
	log       *slog.Logger
	lease     *store.Lease
	now       func() time.Time

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func newRelay(cfg RelayConfig, st *store.Store, pub *publisher, metrics *telemetry.Metrics, log *slog.Logger, nodeID string) *relay {
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	holder := nodeID + "-" + hex.EncodeToString(suffix[:])
	return &relay{cfg: cfg, store: st, publisher: pub, metrics: metrics, log: log.With("component", "relay"),
		lease: st.NewLease("relay", holder, cfg.LeaseTTL), now: time.Now}
}

// Start runs the relay in the background until Stop.
func (r *relay) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("relay already started")
	}
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.done = make(chan struct{})
	go r.run(ctx)
	return nil
}

// Stop ends the relay (an in-flight scan is cancelled; everything it does is
// idempotent) and releases the lease so another instance takes over at once.
// Safe to call more than once and before Start.
func (r *relay) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil || r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

func (r *relay) run(ctx context.Context) {
	defer close(r.done)
	// The lease is renewed in its own loop, so that a long scan never lets
	// it lapse (the scan checks Held as it goes).
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		r.keepLease(ctx)
	}()
	defer func() {
		<-leaseDone
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := r.lease.Release(rctx); err != nil {
			r.log.Warn("relay lease release", "err", err)
		}
		r.metrics.RelayLeader.Set(0)
	}()
	ticker := time.NewTicker(min(r.cfg.Interval, r.cfg.LeaseTTL/3))
	defer ticker.Stop()
	var lastScan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if r.lease.Held() && r.now().Sub(lastScan) >= r.cfg.Interval {
			lastScan = r.now()
			if err := r.scan(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("relay scan", "err", err)
			}
		}
	}
}

// keepLease takes or renews the relay lease every TTL/3 until ctx ends.
func (r *relay) keepLease(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	wasHeld := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		held, err := r.lease.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("relay lease", "err", err)
		}
		if held != wasHeld {
			r.log.Info("relay lease changed", "held", held, "term", r.lease.Term())
			wasHeld = held
			r.metrics.RelayLeader.Set(boolGauge(held))
		}
		timer.Reset(r.cfg.LeaseTTL / 3)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// scan is one pass of the relay over the outbox, the unfinished jobs and the
// dispatch records (all small collections).
func (r *relay) scan(ctx context.Context) error {
	now := r.now()
	outbox, active, err := r.store.OutboxAndActive(ctx)
	if err != nil {
		return err
	}
	// Jobs archived but left in jobs_active (see store.DeferRetire): the
	// retirer removes them within lingerTime, unless it was killed or
	// MongoDB was down.
	if active, err = r.store.RetireArchived(ctx, active, now.Add(-retireGrace)); err != nil {
		return err
	}
	dispatches, err := r.store.Dispatches(ctx)
	if err != nil {
		return err
	}
	byID := make(map[string]*store.Job, len(active))
	for _, j := range active {
		byID[j.ID] = j
	}
	handled := map[string]bool{}
	var errs []error
	for _, e := range outbox {
		if !r.lease.Held() {
			return nil
		}
		if now.Sub(e.CreateTime) < r.cfg.OutboxDelay {
			continue
		}
		// A batch's entry (its creator died before publishing them all):
		// every job of it still unfinished is published again (those its
		// creator did publish are duplicates, which the consumers drop).
		var failed []string
		for _, id := range e.Jobs() {
			j, ok := byID[id]
			if !ok || handled[id] {
				continue
			}
			handled[id] = true
			if err := r.dispatch(ctx, j, dispatchAttempt(dispatches, j.ID), "unpublished"); err != nil {
				errs = append(errs, err)
				failed = append(failed, id)
			}
		}
		switch {
		case len(failed) == 0:
			// Published now; or finished, deleted, or never committed (a
			// create interrupted before its job document: never
			// acknowledged, and a retry with its request_id writes a new
			// entry).
			if err := r.store.MarkPublished(ctx, e.ID); err != nil {
				errs = append(errs, err)
			}
		case len(e.JobIDs) > 0:
			// Only the jobs that failed stay in the outbox, each with an
			// entry of its own: the others must not be published (and
			// their dispatch attempts raised) again at every scan.
			if err := r.store.SplitOutboxEntry(ctx, e, failed); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, j := range active {
		if !r.lease.Held() {
			return errors.Join(errs...)
		}
		if handled[j.ID] {
			continue
		}
		if finished, err := r.store.FinishIfDone(ctx, j); err != nil || finished {
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		attempt := dispatchAttempt(dispatches, j.ID)
		last := j.UpdateTime
		if d, ok := dispatches[j.ID]; ok && d.Time.After(last) {
			last = d.Time
		}
		if now.Sub(last) < r.resultTimeout(attempt) {
			continue
		}
		if err := r.dispatch(ctx, j, attempt, "no_result"); err != nil {
			errs = append(errs, err)
		}
	}
	for id := range dispatches {
		if _, ok := byID[id]; !ok {
			if err := r.store.DeleteDispatch(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := r.store.PurgeDeletions(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// retireGrace is how long after its last update a job in jobs_active may
// be archived and still waiting for the retirer (lingerTime and a write)
// before the relay retires it itself.
const retireGrace = 2 * time.Second

// dispatchAttempt is the number of the latest dispatch of a job.
func dispatchAttempt(d map[string]store.Dispatch, jobID string) int32 {
	if x, ok := d[jobID]; ok {
		return x.Attempt
	}
	return 1 // CreateJob's
}

// resultTimeout is how long to wait for a result after dispatch attempt.
func (r *relay) resultTimeout(attempt int32) time.Duration {
	return r.cfg.ResultTimeout << min(max(attempt-1, 0), 4)
}

// dispatch sends what job j still needs, as dispatch prev+1, or fails its
// operations without an outcome when prev reached MaxAttempts.
func (r *relay) dispatch(ctx context.Context, j *store.Job, prev int32, reason string) error {
	u, err := r.store.UndoneOperations(ctx, j)
	if err != nil {
		return err
	}
	if len(u.Missing) == 0 {
		// Every operation has its outcome, but the job is not finished: the
		// counting was cut short (a crash between storing and counting, or
		// claims whose messages were lost). Count from the outcomes.
		changed, err := r.store.Reconcile(ctx, j, u)
		if err != nil {
			return err
		}
		r.metrics.RelayRepublished.WithLabelValues("reconciled").Inc()
		r.log.Warn("job counters reconciled", "job_id", j.ID, "reason", reason, "changed", changed,
			"succeeded", u.Succeeded, "failed", u.Failed, "cancelled", u.Cancelled)
		return nil
	}
	next := prev + 1
	failed := 0
	if int(prev) >= r.cfg.MaxAttempts && len(u.Missing) > 0 {
		ids := make([]string, len(u.Missing))
		for i := range u.Missing {
			ids[i] = u.Missing[i].ID
		}
		msg := fmt.Sprintf("no result after %d dispatches (the last one %s ago): given up", prev, r.resultTimeout(prev))
		won, err := r.store.ClaimFailed(ctx, j.ID, ids, prev, msg)
		if err != nil {
			return err
		}
		failed = len(won)
		u.Claims = append(u.Claims, won...)
		u.Missing = nil
		r.metrics.RelayFailed.Add(float64(failed))
	}
	if len(u.Missing) > 0 {
		if err := r.publisher.publishOperations(ctx, j, u.Missing, next); err != nil {
			return err
		}
		r.metrics.RelayRepublished.WithLabelValues(reason).Add(float64(len(u.Missing)))
	}
	if len(u.Claims) > 0 {
		if err := r.publisher.publishClaims(ctx, j.ID, u.Claims); err != nil {
			return err
		}
		r.metrics.RelayRepublished.WithLabelValues("uncounted_outcome").Add(float64(len(u.Claims)))
	}
	if err := r.store.RecordDispatch(ctx, store.Dispatch{JobID: j.ID, Attempt: next, Time: r.now().UTC()}); err != nil {
		return err
	}
	r.log.Warn("job re-dispatched", "job_id", j.ID, "reason", reason, "attempt", next,
		"operations", len(u.Missing), "outcomes", len(u.Claims), "failed", failed)
	return nil
}
