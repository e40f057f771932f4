package store

import (
	"fmt"
	"testing"
	"time"
)

func TestRecentJobs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRecentJobs(func() time.Time { return now })
	r.put(&Job{ID: "a", Total: 3})
	if j, ok := r.get("a"); !ok || j.Total != 3 {
		t.Fatalf("get a = %+v, %v", j, ok)
	}
	// A copy: the caller's changes do not reach the cache.
	j, _ := r.get("a")
	j.Succeeded = 3
	if j, _ := r.get("a"); j.Succeeded != 0 {
		t.Fatal("get returned the cached job itself")
	}
	r.drop("a")
	if _, ok := r.get("a"); ok {
		t.Fatal("dropped job still there")
	}

	// Entries live recentTTL, across a generation switch.
	r.put(&Job{ID: "b"})
	now = now.Add(recentTTL / 2) // the next put switches generations
	r.put(&Job{ID: "c"})
	if _, ok := r.get("b"); !ok {
		t.Fatal("b lost at the generation switch, before its TTL")
	}
	now = now.Add(recentTTL / 2)
	if _, ok := r.get("b"); ok {
		t.Fatal("b outlived recentTTL")
	}
	if _, ok := r.get("c"); !ok {
		t.Fatal("c expired early")
	}

	// Memory stays bounded: at most recentMax entries.
	for i := range 3 * recentMax {
		r.put(&Job{ID: fmt.Sprint(i)})
	}
	if n := len(r.cur) + len(r.prev); n > recentMax {
		t.Fatalf("%d entries held, bound %d", n, recentMax)
	}
	if _, ok := r.get(fmt.Sprint(3*recentMax - 1)); !ok {
		t.Fatal("the newest entry is missing")
	}
}
