package groupcommit

import (
	"context"
	"runtime"
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

// TestGroupLinger checks WithLinger: a batch after a batch of several waits
// for more items (here until it is full: the linger is an hour), while a
// batch after a single item does not wait at all.
func TestGroupLinger(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{})
	sizes := make(chan int, 16)
	g := New(1, 4, 100, func(int) int { return 1 },
		func(_ context.Context, items []int) []int {
			if items[0] == 0 {
				close(entered)
				<-release // hold the first batch while 1 and 2 queue
			}
			sizes <- len(items)
			return items
		}, WithLinger(time.Hour))
	defer g.Stop()

	var wg sync.WaitGroup
	do := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := g.Do(t.Context(), i); err != nil || got != i {
				t.Errorf("Do(%d) = %d, %v", i, got, err)
			}
		}()
	}
	do(0) // batch {0}: no batch before it, no wait
	<-entered
	do(1)
	do(2)
	for len(g.in) != 2 {
		runtime.Gosched() // until 1 and 2 wait
	}
	close(release)
	if a, b := <-sizes, <-sizes; a != 1 || b != 2 {
		// {1, 2}: after a single item, no wait either.
		t.Fatalf("first batches of %d and %d items, want 1 and 2", a, b)
	}
	// After a batch of two, the next one waits for three more items
	// (the hour would fail the test's deadline).
	for i := 3; i < 7; i++ {
		do(i)
	}
	if n := <-sizes; n != 4 {
		t.Fatalf("batch of %d items after a batch of two, want 4 (full)", n)
	}
	wg.Wait()
}
