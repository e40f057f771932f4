package client

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
)

// lingerer runs a write on what it collected for up to lingerTime, in the
// background: the client service deletes the outbox entries of published
// jobs (newOutboxCleaner) and removes archived jobs from jobs_active
// (newRetirer) with it.
//
// Every write is a write under the store's write lock, and with SQLite
// most of its cost is per call: measured under W1, deleting the outbox
// entries queued at each moment (about 4.5 a call, 60 calls/s) held the
// lock 150-180 ms of every second at 2.5 ms a call, and removing finished
// jobs from jobs_active per applier batch (8 a call) 190 ms at 3 ms a call.
// Collected for 100 ms, each is one call of about 3 ms for 50-60 items.
type lingerer[T any] struct {
	write func(ctx context.Context, items []T) error
	what  string // what the items are, for the log
	log   *slog.Logger
	items chan T
	done  chan struct{}
	// mu guards stopped: Add after Stop drops its item instead of sending
	// on the closed channel.
	mu      sync.RWMutex
	stopped bool
}

// lingerTime is how long a lingerer collects before a write.
const lingerTime = 100 * time.Millisecond

// lingerMax bounds the items of one write.
const lingerMax = 1000

func newLingerer[T any](what string, log *slog.Logger, write func(ctx context.Context, items []T) error) *lingerer[T] {
	l := &lingerer[T]{write: write, what: what, log: log, items: make(chan T, 4096), done: make(chan struct{})}
	go l.run()
	return l
}

// newOutboxCleaner deletes the outbox entries of published jobs in batches:
// a job whose entry is not deleted (a crash, an error) is only published
// once more by the relay, which consumers drop as duplicates. An entry that
// lives 100 ms longer costs nothing: the relay only looks at entries older
// than RELAY_OUTBOX_DELAY.
func newOutboxCleaner(st *store.Store, log *slog.Logger) *lingerer[string] {
	return newLingerer("outbox entries", log, st.MarkPublishedMany)
}

// newRetirer removes the jobs that the applier archived from jobs_active in
// batches (see store.DeferRetire). A job left in jobs_active by a crash or
// an error is archived again, and removed, by the relay (FinishIfDone); every
// reader prefers the archived copy meanwhile.
func newRetirer(st *store.Store, log *slog.Logger) *lingerer[*store.Job] {
	return newLingerer("archived jobs", log, func(ctx context.Context, jobs []*store.Job) error {
		gone, err := st.RetireJobs(ctx, jobs)
		if len(gone) > 0 {
			log.InfoContext(ctx, "jobs deleted while being archived", "jobs", len(gone))
		}
		return err
	})
}

// Add queues an item (it waits while the queue is full, or until ctx ends).
// After Stop it drops the item: what the lingerer would have written is
// left to the relay, as after a crash.
func (l *lingerer[T]) Add(ctx context.Context, item T) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.stopped {
		return
	}
	select {
	case l.items <- item:
	case <-ctx.Done():
	}
}

// Stop writes what is queued and ends the lingerer; call it once no caller
// of Add is left. Safe to call more than once.
func (l *lingerer[T]) Stop() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.items)
	}
	l.mu.Unlock()
	<-l.done
}

func (l *lingerer[T]) run() {
	defer close(l.done)
	batch := make([]T, 0, lingerMax)
	for item := range l.items {
		batch = append(batch[:0], item)
		// Collect for up to lingerTime after the first item, or until a
		// full batch, or until Stop.
		timer := time.NewTimer(lingerTime)
	collect:
		for len(batch) < cap(batch) {
			select {
			case item, ok := <-l.items:
				if !ok {
					break collect
				}
				batch = append(batch, item)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		if err := l.write(context.Background(), batch); err != nil {
			l.log.Warn("batched write deferred to the relay", "what", l.what, "items", len(batch), "err", err)
		}
	}
}
