package client

import (
	"context"
	"log/slog"
	"sync"

	"github.com/jobplane/jobplane/pkg/store"
)

// groupCommit runs fn on batches of the items that callers submit
// concurrently (group commit): a worker takes the first waiting item, then
// every item already waiting, up to maxItems items or maxWeight total
// weight. Batches grow with load and add no delay when the service is idle.
// FerretDB on SQLite serializes writes, so one write of many documents is
// far cheaper than many writes of a few; on MongoDB it saves round trips.
type groupCommit[T, R any] struct {
	in        chan *pendingItem[T, R]
	fn        func(ctx context.Context, items []T) []R
	weight    func(T) int
	maxItems  int
	maxWeight int

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type pendingItem[T, R any] struct {
	ctx  context.Context
	item T
	done chan R
}

func newGroupCommit[T, R any](workers, maxItems, maxWeight int, weight func(T) int, fn func(context.Context, []T) []R) *groupCommit[T, R] {
	ctx, cancel := context.WithCancel(context.Background())
	g := &groupCommit[T, R]{in: make(chan *pendingItem[T, R], maxItems), fn: fn, weight: weight,
		maxItems: maxItems, maxWeight: maxWeight, cancel: cancel}
	for range workers {
		g.wg.Add(1)
		go g.work(ctx)
	}
	return g
}

// Do submits item and waits for its result. If ctx ends first, the item may
// still be processed (as with any call whose caller gives up).
func (g *groupCommit[T, R]) Do(ctx context.Context, item T) (R, error) {
	p := &pendingItem[T, R]{ctx: ctx, item: item, done: make(chan R, 1)}
	var zero R
	select {
	case g.in <- p:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case r := <-p.done:
		return r, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Stop ends the workers once no caller waits (call it after the API has
// stopped). Safe to call more than once.
func (g *groupCommit[T, R]) Stop() {
	g.cancel()
	g.wg.Wait()
}

func (g *groupCommit[T, R]) work(ctx context.Context) {
	defer g.wg.Done()
	var batch []*pendingItem[T, R]
	var items []T
	for {
		var first *pendingItem[T, R]
		select {
		case first = <-g.in:
		case <-ctx.Done():
			return
		}
		batch, items = append(batch[:0], first), append(items[:0], first.item)
		weight := g.weight(first.item)
	drain:
		for len(batch) < g.maxItems && weight < g.maxWeight {
			select {
			case p := <-g.in:
				batch, items = append(batch, p), append(items, p.item)
				weight += g.weight(p.item)
			default:
				break drain
			}
		}
		// The batch runs in the first caller's context (its trace span),
		// without its cancellation: the other callers wait for the batch
		// too, and it is written even if the service is stopping.
		results := g.fn(context.WithoutCancel(first.ctx), items)
		for i, p := range batch {
			p.done <- results[i]
		}
	}
}

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
