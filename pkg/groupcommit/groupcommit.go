// Package groupcommit batches the items that callers submit concurrently
// into one call (group commit).
package groupcommit

import (
	"context"
	"sync"
)

// Group runs fn on batches of the items that callers submit
// concurrently (group commit): a worker takes the first waiting item, then
// every item already waiting, up to maxItems items or maxWeight total
// weight. Batches grow with load and add no delay when the service is idle.
// FerretDB on SQLite serializes writes, so one write of many documents is
// far cheaper than many writes of a few; on MongoDB it saves round trips.
// The client service batches job creation and result application with it,
// and the raw-ceiling tool does the same.
type Group[T, R any] struct {
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

// New starts workers that run fn on batches of at most maxItems items and
// maxWeight total weight (weight(item) each); fn returns one result per item,
// in order.
func New[T, R any](workers, maxItems, maxWeight int, weight func(T) int, fn func(context.Context, []T) []R) *Group[T, R] {
	ctx, cancel := context.WithCancel(context.Background())
	g := &Group[T, R]{in: make(chan *pendingItem[T, R], maxItems), fn: fn, weight: weight,
		maxItems: maxItems, maxWeight: maxWeight, cancel: cancel}
	for range workers {
		g.wg.Add(1)
		go g.work(ctx)
	}
	return g
}

// Do submits item and waits for its result. If ctx ends first, the item may
// still be processed (as with any call whose caller gives up).
func (g *Group[T, R]) Do(ctx context.Context, item T) (R, error) {
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
func (g *Group[T, R]) Stop() {
	g.cancel()
	g.wg.Wait()
}

func (g *Group[T, R]) work(ctx context.Context) {
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
