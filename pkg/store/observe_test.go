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
// and how long it took, and that the hot path's writes are all inserts;
// with outbox entries in jobs_active, none is to the outbox.
func TestObserveWrite(t *testing.T) {
	t.Parallel()
	forLayouts(t, testObserveWrite)
}

func testObserveWrite(t *testing.T, layout store.OutboxLayout) {
	w := &writes{}
	s, _ := setupWith(t, store.Config{Writes: w, Outbox: layout})
	ctx := t.Context()
	ids, batch := createdWithResults(t, s, numberedJob(3), numberedJob(2))
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
	want := []string{"insert operations", "insert jobs_active", "insert results", "insert jobs", "delete jobs_active"}
	if layout == store.OutboxActive {
		for k := range got {
			if strings.HasSuffix(k, " outbox") {
				t.Errorf("%q observed: the batch's outbox entry is written and deleted with jobs_active", k)
			}
		}
	} else {
		want = append(want, "insert outbox", "delete outbox")
	}
	for _, want := range want {
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
