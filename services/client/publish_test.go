package client

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
)

// TestPublishLater: CreateJob answers once the job is stored and publishes
// it in the background. A published job reaches the request topic and its
// outbox entry goes; a job whose publish fails, one whose caller gives up
// waiting for a publish slot, and one created after shutdown began each get
// an outbox entry of their own for the relay.
func TestPublishLater(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ctx := t.Context()
	svc := &jobService{store: b.store, publisher: b.relay.publisher, metrics: telemetry.NewMetrics(), log: slog.New(slog.DiscardHandler),
		cleaner: newCleaner(b.store, slog.New(slog.DiscardHandler)), publishSlots: make(chan struct{}, 1)}
	out := b.store.CreateJobs(ctx, []store.NewJob{
		{Operations: []store.OpInput{{Type: "expr", Request: "1 + 1"}}},
		{Operations: []store.OpInput{{Type: "expr", Request: strings.Repeat("x", 9<<20)}}}, // over the broker's message size
		{Operations: []store.OpInput{{Type: "expr", Request: "2 + 2"}}},
	})
	for _, c := range out {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	healthy, broken, waiting := out[0], out[1], out[2]

	svc.publishLater(ctx, healthy.Job, healthy.Ops)
	svc.publishLater(ctx, broken.Job, broken.Ops)
	// Every slot taken (the one slot, once both publishes are done), and the
	// caller's context ends while it waits.
	svc.publishSlots <- struct{}{}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	svc.publishLater(gone, waiting.Job, waiting.Ops)
	<-svc.publishSlots
	// After shutdown began, a call's job is the relay's too: such a call
	// outlived a forced gRPC stop, which ended its context.
	late := b.store.CreateJobs(ctx, []store.NewJob{{Operations: []store.OpInput{{Type: "expr", Request: "3 + 3"}}}})[0]
	if late.Err != nil {
		t.Fatal(late.Err)
	}
	svc.waitPublishes()
	svc.publishLater(gone, late.Job, late.Ops)
	svc.cleaner.Stop() // deletes the entries of published jobs now

	waitFor(t, "the published operation", func() bool {
		return slices.Contains(b.requests.byAttempt(1), healthy.Ops[0].ID)
	})
	if got := b.requests.byAttempt(1); slices.Contains(got, waiting.Ops[0].ID) {
		t.Errorf("the job whose caller gave up was published: %v", got)
	}
	entries, err := b.store.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var own []string
	for _, e := range entries {
		if len(e.JobIDs) != 0 {
			t.Errorf("outbox entry %s still lists jobs %v", e.ID, e.JobIDs)
			continue
		}
		own = append(own, e.ID)
	}
	slices.Sort(own)
	want := []string{broken.Job.ID, waiting.Job.ID, late.Job.ID}
	slices.Sort(want)
	if !slices.Equal(own, want) {
		t.Errorf("outbox entries %v, want the unpublished jobs' own %v", own, want)
	}
}
