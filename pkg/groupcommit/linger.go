package groupcommit

import (
	"context"
	"sync"
	"time"
)

// Linger runs a write on the items added to it, in the background, in
// batches collected for up to a linger time after their first item: for
// writes whose callers need not wait for them and whose cost is mostly per
// call (deletes on FerretDB's single SQLite writer). The client service
// deletes published jobs' outbox entries and removes archived jobs from
// jobs_active with it, and the raw-ceiling tool does the same.
type Linger[T any] struct {
	write    func(ctx context.Context, items []T)
	linger   time.Duration
	maxItems int
	items    chan T
	done     chan struct{}
	// mu guards stopped: Add after Stop drops its item instead of sending
	// on the closed channel.
	mu      sync.RWMutex
	stopped bool
}

// NewLinger starts a Linger that calls write with batches of at most
// maxItems items, each collected for up to linger after its first item.
// write must not keep the slice; what it does with an error is its own
// business (the items are not retried).
func NewLinger[T any](linger time.Duration, maxItems int, write func(ctx context.Context, items []T)) *Linger[T] {
	l := &Linger[T]{write: write, linger: linger, maxItems: maxItems, items: make(chan T, 4*maxItems), done: make(chan struct{})}
	go l.run()
	return l
}

// Add queues an item; it waits while the queue is full, or until ctx ends.
// After Stop it drops the item.
func (l *Linger[T]) Add(ctx context.Context, item T) {
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

// Stop writes what is queued and ends the Linger. Safe to call more than
// once.
func (l *Linger[T]) Stop() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.items)
	}
	l.mu.Unlock()
	<-l.done
}

func (l *Linger[T]) run() {
	defer close(l.done)
	batch := make([]T, 0, l.maxItems)
	for item := range l.items {
		batch = append(batch[:0], item)
		// Collect for up to linger after the first item, or until a full
		// batch, or until Stop.
		timer := time.NewTimer(l.linger)
	collect:
		for len(batch) < l.maxItems {
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
		l.write(context.Background(), batch)
	}
}
