package store_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/store"
)

// writes is a store.WriteObserver that keeps what it learns.
type writes struct {
	mu   sync.Mutex
	seen []observedWrite
}

type observedWrite struct {
	op, coll   string
	wait, held time.Duration
}

func (w *writes) ObserveStoreWrite(op, coll string, wait, held time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, observedWrite{op, coll, wait, held})
}

// TestObserveWrite checks that every write is reported with what it wrote
// and how long it took, and that the hot path's writes are all inserts.
func TestObserveWrite(t *testing.T) {
	t.Parallel()
	w := &writes{}
	s, _ := setupWith(t, store.Config{Writes: w})
	ctx := t.Context()
	created := s.CreateJobs(ctx, []store.NewJob{numberedJob(3), numberedJob(2)})
	var batch []store.Result
	var ids []string
	for _, c := range created {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		ids = append(ids, c.Job.ID)
		for _, op := range c.Ops {
			batch = append(batch, result(op.ID, store.OpSucceeded, "1"))
		}
	}
	if _, err := s.ApplyResults(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPublishedMany(ctx, ids); err != nil {
		t.Fatal(err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	got := map[string]int{}
	for _, o := range w.seen {
		if o.held <= 0 || o.wait < 0 {
			t.Errorf("%+v: want a positive duration held and no negative wait", o)
		}
		got[o.op+" "+o.coll]++
	}
	for _, want := range []string{"insert operations", "insert outbox", "insert jobs_active", "insert results", "insert jobs", "delete jobs_active", "delete outbox"} {
		if got[want] == 0 {
			t.Errorf("no %q observed; observed %v", want, got)
		}
	}
	for k := range got {
		if !strings.HasPrefix(k, "insert ") && k != "delete jobs_active" && k != "delete outbox" {
			t.Errorf("%q observed: creating, publishing and finishing jobs of a few operations only inserts, and deletes what it retires", k)
		}
	}
}
