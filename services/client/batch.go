package client

import (
	"context"
	"log/slog"
	"time"

	"github.com/jobplane/jobplane/pkg/groupcommit"
	"github.com/jobplane/jobplane/pkg/store"
)

// The client service's background deletes (the cleaner's) collect for
// lingerTime, up to lingerMax items a call. Each is a
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

// cleanup is an item of the cleaner: a published job, whose outbox entry
// may go, or an archived job to retire from jobs_active.
type cleanup struct {
	published string
	retired   *store.Job
}

// newCleaner deletes in batches (store.CleanUp) the outbox entries of
// published jobs and the archived jobs from jobs_active (see
// store.DeferRetire), one write for both where it can. An entry that is not
// deleted (a crash, an error) only gets its jobs published once more by the
// relay, which consumers drop as duplicates; an entry that lives 100 ms
// longer costs nothing, as the relay only looks at entries older than
// RELAY_OUTBOX_DELAY. A job left in jobs_active is retired by the relay
// (store.RetireArchived); every reader prefers the archived copy meanwhile.
func newCleaner(st *store.Store, log *slog.Logger) *groupcommit.Linger[cleanup] {
	return groupcommit.NewLinger(lingerTime, lingerMax, func(ctx context.Context, items []cleanup) {
		var published []string
		var retired []*store.Job
		for _, c := range items {
			if c.retired != nil {
				retired = append(retired, c.retired)
			} else {
				published = append(published, c.published)
			}
		}
		gone, err := st.CleanUp(ctx, published, retired)
		if err != nil {
			log.Warn("cleanup deferred to the relay", "published", len(published), "retired", len(retired), "err", err)
		}
		if len(gone) > 0 {
			log.InfoContext(ctx, "jobs deleted while being archived", "jobs", len(gone))
		}
	})
}
