package client

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// writes records the batches a lingerer writes.
type writes struct {
	mu      sync.Mutex
	batches [][]int
}

func (w *writes) write(_ context.Context, items []int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.batches = append(w.batches, slices.Clone(items))
	return nil
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
// lingerMax; Add after Stop drops its item instead of panicking.
func TestLingererWritesAllOnStop(t *testing.T) {
	w := &writes{}
	l := newLingerer("items", slog.New(slog.DiscardHandler), w.write)
	n := 2*lingerMax + 5
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
		if len(b) == 0 || len(b) > lingerMax {
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

// A lingerer writes what it holds without waiting for Stop.
func TestLingererWritesAfterLinger(t *testing.T) {
	written := make(chan []int, 1)
	l := newLingerer("items", slog.New(slog.DiscardHandler), func(_ context.Context, items []int) error {
		written <- slices.Clone(items)
		return nil
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
