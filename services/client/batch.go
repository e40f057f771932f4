package client

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
)

// outboxCleaner deletes the outbox entries of published jobs in batches,
// in the background: a job whose entry is not deleted (a crash, an error) is
// only published once more by the relay, which consumers drop as duplicates.
//
// It collects entries for up to cleanerLinger before a delete. Every delete
// is a write under the store's write lock, and with SQLite most of its cost
// is per call: measured under W1, deleting whatever was queued (about 4.5
// entries per call, 60 calls/s) held the lock 150-180 ms of every second
// at 2.5 ms a call. An entry that lives 100 ms longer costs nothing: the
// relay only looks at entries older than RELAY_OUTBOX_DELAY.
type outboxCleaner struct {
	store *store.Store
	log   *slog.Logger
	ids   chan string
	done  chan struct{}
	once  sync.Once
}

// cleanerLinger is how long the cleaner collects entries before a delete.
const cleanerLinger = 100 * time.Millisecond

func newOutboxCleaner(st *store.Store, log *slog.Logger) *outboxCleaner {
	c := &outboxCleaner{store: st, log: log, ids: make(chan string, 4096), done: make(chan struct{})}
	go c.run()
	return c
}

// Published queues the outbox entry of jobID for deletion.
func (c *outboxCleaner) Published(ctx context.Context, jobID string) {
	select {
	case c.ids <- jobID:
	case <-ctx.Done():
	}
}

// Stop deletes what is queued and ends the cleaner; call it once no caller
// of Published is left. Safe to call more than once.
func (c *outboxCleaner) Stop() {
	c.once.Do(func() { close(c.ids) })
	<-c.done
}

func (c *outboxCleaner) run() {
	defer close(c.done)
	batch := make([]string, 0, 1000)
	for id := range c.ids {
		batch = append(batch[:0], id)
		// Collect for up to linger after the first entry, or until a full
		// batch, or until Stop.
		timer := time.NewTimer(cleanerLinger)
	collect:
		for len(batch) < cap(batch) {
			select {
			case id, ok := <-c.ids:
				if !ok {
					break collect
				}
				batch = append(batch, id)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		if err := c.store.MarkPublishedMany(context.Background(), batch); err != nil {
			c.log.Warn("outbox cleanup deferred to the relay", "jobs", len(batch), "err", err)
		}
	}
}
