package client

import (
	"context"
	"log/slog"
	"sync"

	"github.com/jobplane/jobplane/pkg/store"
)

// outboxCleaner deletes the outbox entries of published jobs in batches,
// in the background: a job whose entry is not deleted (a crash, an error) is
// only published once more by the relay, which consumers drop as duplicates.
type outboxCleaner struct {
	store *store.Store
	log   *slog.Logger
	ids   chan string
	done  chan struct{}
	once  sync.Once
}

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
	drain:
		for len(batch) < cap(batch) {
			select {
			case id, ok := <-c.ids:
				if !ok {
					break drain
				}
				batch = append(batch, id)
			default:
				break drain
			}
		}
		if err := c.store.MarkPublishedMany(context.Background(), batch); err != nil {
			c.log.Warn("outbox cleanup deferred to the relay", "jobs", len(batch), "err", err)
		}
	}
}
