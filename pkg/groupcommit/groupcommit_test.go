package groupcommit

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestGroup(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sizes []int
	var g *Group[int, int]
	g = New(1, 8, 100, func(n int) int { return n },
		func(_ context.Context, items []int) []int {
			// Hold the first batch until the queue is full, so that the
			// next batch is a full one.
			deadline := time.Now().Add(10 * time.Second)
			for len(sizes) == 0 && len(g.in) < cap(g.in) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // polling interval
			}
			mu.Lock()
			sizes = append(sizes, len(items))
			mu.Unlock()
			out := make([]int, len(items))
			for i, v := range items {
				out[i] = v * 10
			}
			return out
		})
	defer g.Stop()

	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan string, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := g.Do(t.Context(), i)
			if err != nil || got != i*10 {
				errs <- "wrong result"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	total := 0
	for _, n := range sizes {
		if n < 1 || n > 8 {
			t.Fatalf("batch of %d items (max 8)", n)
		}
		total += n
	}
	if total != callers || len(sizes) < 2 || sizes[1] != 8 {
		t.Fatalf("batches %v: want %d items, the second batch full (8)", sizes, callers)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Do(ctx, 1); err == nil {
		t.Fatal("Do with a cancelled context succeeded")
	}
}
