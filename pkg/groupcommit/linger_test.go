package groupcommit

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// writes records the batches a Linger writes.
type writes struct {
	mu      sync.Mutex
	batches [][]int
}

func (w *writes) write(_ context.Context, items []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.batches = append(w.batches, slices.Clone(items))
}

func (w *writes) all() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for _, b := range w.batches {
		out = append(out, b...)
	}
	return out
}

// Stop writes everything added before it, in order, in batches of at most
// maxItems; Add after Stop drops its item instead of panicking.
func TestLingerWritesAllOnStop(t *testing.T) {
	t.Parallel()
	const maxItems = 100
	w := &writes{}
	l := NewLinger(time.Hour, maxItems, w.write)
	n := 2*maxItems + 5
	want := make([]int, n)
	for i := range n {
		want[i] = i
		l.Add(t.Context(), i)
	}
	l.Stop()
	if got := w.all(); !slices.Equal(got, want) {
		t.Fatalf("wrote %d items, want %d in order", len(got), len(want))
	}
	for _, b := range w.batches {
		if len(b) == 0 || len(b) > maxItems {
			t.Errorf("batch of %d items", len(b))
		}
	}
	if len(w.batches) < 3 {
		t.Errorf("%d batches for %d items, want at least 3", len(w.batches), n)
	}
	l.Add(t.Context(), n) // after Stop: dropped
	l.Stop()              // again: no-op
	if got := len(w.all()); got != n {
		t.Errorf("after a late Add: %d items written, want %d", got, n)
	}
}

// A Linger writes what it holds once its linger time has passed, without
// waiting for Stop.
func TestLingerWritesAfterLinger(t *testing.T) {
	t.Parallel()
	written := make(chan []int, 2)
	l := NewLinger(10*time.Millisecond, 100, func(_ context.Context, items []int) {
		written <- slices.Clone(items)
	})
	defer l.Stop()
	l.Add(t.Context(), 1)
	l.Add(t.Context(), 2)
	select {
	case got := <-written:
		if !slices.Equal(got, []int{1, 2}) && !slices.Equal(got, []int{1}) {
			t.Errorf("first batch = %v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing written within 10 s")
	}
}
