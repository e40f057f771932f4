package client

import (
	"context"
	"log/slog"
	"time"

	"github.com/jobplane/jobplane/pkg/groupcommit"
	"github.com/jobplane/jobplane/pkg/store"
)

// The client service's background deletes (the outbox cleaner, the
// retirer) collect for lingerTime, up to lingerMax items a call. Each is a
// write under the store's write lock, and with SQLite most of its cost is
// per call: measured under W1, deleting the outbox entries queued at each
// moment (about 4.5 a call, 60 calls/s) held the lock 150-180 ms of every
// second at 2.5 ms a call, and removing finished jobs from jobs_active per
// applier batch (8 a call) 190 ms at 3 ms a call. Collected for 100 ms,
// each is one call of 3-6 ms for 50-60 items.
const (
	lingerTime = 100 * time.Millisecond
	lingerMax  = 1000
)

// newOutboxCleaner deletes the outbox entries of published jobs in batches:
// a job whose entry is not deleted (a crash, an error) is only published
// once more by the relay, which consumers drop as duplicates. An entry that
// lives 100 ms longer costs nothing: the relay only looks at entries older
// than RELAY_OUTBOX_DELAY.
func newOutboxCleaner(st *store.Store, log *slog.Logger) *groupcommit.Linger[string] {
	return groupcommit.NewLinger(lingerTime, lingerMax, func(ctx context.Context, ids []string) {
		if err := st.MarkPublishedMany(ctx, ids); err != nil {
			log.Warn("outbox cleanup deferred to the relay", "jobs", len(ids), "err", err)
		}
	})
}

// newRetirer removes the jobs that the applier archived from jobs_active in
// batches (see store.DeferRetire). A job left in jobs_active by a crash or
// an error is retired by the relay (store.RetireArchived); every reader
// prefers the archived copy meanwhile.
func newRetirer(st *store.Store, log *slog.Logger) *groupcommit.Linger[*store.Job] {
	return groupcommit.NewLinger(lingerTime, lingerMax, func(ctx context.Context, jobs []*store.Job) {
		gone, err := st.RetireJobs(ctx, jobs)
		if err != nil {
			log.Warn("removal of archived jobs from jobs_active deferred to the relay", "jobs", len(jobs), "err", err)
		}
		if len(gone) > 0 {
			log.InfoContext(ctx, "jobs deleted while being archived", "jobs", len(gone))
		}
	})
}
