package client

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobplane/jobplane/pkg/embedded"
	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

// relayBundle is a relay over embedded FerretDB and kfake (over TCP), with
// the real applier consuming the response topic and a recorder of the
// request topic standing in for the servers.
type relayBundle struct {
	relay    *relay
	store    *store.Store
	mongoURI string
	requests *recorder
	clock    *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder keeps the decoded requests it consumed.
type recorder struct {
	mu   sync.Mutex
	reqs []*queuev1.OperationRequest
}

func (r *recorder) handle(_ context.Context, _ int, msgs []kafka.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range msgs {
		req, err := queue.DecodeRequest(&msgs[i])
		if err != nil {
			return err
		}
		r.reqs = append(r.reqs, req)
	}
	return nil
}

// byAttempt returns the operation ids received with the given attempt.
func (r *recorder) byAttempt(attempt int32) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, q := range r.reqs {
		if q.GetAttempt() == attempt {
			ids = append(ids, q.GetOperationId())
		}
	}
	return ids
}

func setupRelay(t *testing.T) *relayBundle {
	t.Helper()
	ctx := t.Context()
	stack, err := embedded.Start(ctx, embedded.Config{KafkaPorts: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	if err := stack.IndexIDs(ctx, "jobplane", store.Collections); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Config{URI: stack.MongoURI()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	brokers := stack.KafkaBrokers()
	if err := queue.EnsureTopics(ctx, nil, brokers, queue.JobplaneTopics(queue.RequestTopic, queue.ResponseTopic, queue.DLQTopic, 3, 1)...); err != nil {
		t.Fatal(err)
	}
	w := queue.NewWriter(queue.WriterConfig{Brokers: brokers})
	t.Cleanup(func() { _ = w.Close() })
	metrics := telemetry.NewMetrics()
	log := slog.New(slog.DiscardHandler)
	pub := &publisher{writer: w, topic: queue.RequestTopic, responseTopic: queue.ResponseTopic, store: st, metrics: metrics, log: log}

	consumer := func(group, topic string, h queue.BatchHandler) {
		c := queue.NewConsumer(queue.ConsumerConfig{
			Brokers: brokers, Topic: topic, GroupID: group, MaxBatch: 50,
			HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: time.Second, RebalanceTimeout: time.Second,
			JoinGroupBackoff: 100 * time.Millisecond, MaxWait: 100 * time.Millisecond, ShutdownTimeout: time.Second,
		}, h)
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)
	}
	app := &applier{store: st, topic: queue.ResponseTopic, metrics: metrics, log: log}
	consumer("test-response-group", queue.ResponseTopic, app.handle)
	rec := &recorder{}
	consumer("test-request-group", queue.RequestTopic, rec.handle)

	clk := &fakeClock{t: time.Now()}
	cfg := RelayConfig{Interval: time.Second, LeaseTTL: 10 * time.Second, OutboxDelay: 5 * time.Second, ResultTimeout: time.Minute, MaxAttempts: 3}
	r := newRelay(cfg, st, pub, metrics, log, "test")
	r.now = clk.now
	r.lease.SetClock(clk.now)
	return &relayBundle{relay: r, store: st, mongoURI: stack.MongoURI(), requests: rec, clock: clk}
}

// republished is the relay's count of messages published again for reason.
func (b *relayBundle) republished(reason string) float64 {
	return testutil.ToFloat64(b.relay.metrics.RelayRepublished.WithLabelValues(reason))
}

// scan takes the lease (if free) and runs one relay pass.
func (b *relayBundle) scan(t *testing.T) {
	t.Helper()
	if held, err := b.relay.lease.Tick(t.Context()); err != nil || !held {
		t.Fatalf("lease: held=%v err=%v", held, err)
	}
	if err := b.relay.scan(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (b *relayBundle) job(t *testing.T, id string) *store.Job {
	t.Helper()
	j, err := b.store.GetJob(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestRelayRepairs follows one job that was stored but never published
// (the client died before publishing) and whose messages then get lost
// (no server answers): the relay publishes it, re-dispatches it with the
// next attempt, and finally fails it with a clear error; the failures are
// counted by the real applier once.
func TestRelayRepairs(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ctx := t.Context()
	j, _, _, err := b.store.CreateJob(ctx, store.NewJob{Operations: []store.OpInput{{Type: "expr", Request: "1"}, {Type: "expr", Request: "2"}}})
	if err != nil {
		t.Fatal(err)
	}

	// A young outbox entry is left to its creator. (The scan returns after
	// publishing, so the relay's counter and the outbox show a wrong publish
	// at once; the requests consumer may not have seen it yet.)
	b.scan(t)
	if got := b.requests.byAttempt(2); len(got) != 0 || b.republished("unpublished") != 0 {
		t.Fatalf("published too early: %v, counter %v", got, b.republished("unpublished"))
	}
	if out, _ := b.store.Outbox(ctx); len(out) != 1 {
		t.Fatalf("young outbox entry handled: %v", out)
	}
	// Older than OutboxDelay: published as attempt 2, entry removed.
	b.clock.advance(6 * time.Second)
	b.scan(t)
	waitFor(t, "the unpublished job's operations", func() bool { return len(b.requests.byAttempt(2)) == 2 })
	if out, _ := b.store.Outbox(ctx); len(out) != 0 {
		t.Fatalf("outbox still has %v", out)
	}
	// No result within the result timeout: attempt 3 (the timeout doubles
	// after every dispatch: 2 minutes now).
	b.clock.advance(61 * time.Second)
	b.scan(t)
	if got := b.requests.byAttempt(3); len(got) != 0 || b.republished("no_result") != 0 {
		t.Fatalf("re-dispatched before the doubled timeout: %v, counter %v", got, b.republished("no_result"))
	}
	b.clock.advance(61 * time.Second)
	b.scan(t)
	waitFor(t, "the re-dispatch", func() bool { return len(b.requests.byAttempt(3)) == 2 })

	// One operation answers (through the real applier); the other is lost
	// again and, after MaxAttempts (3) dispatches, fails.
	res, err := queue.EncodeResult(queue.ResponseTopic, []byte(j.ID), &queuev1.OperationResult{
		JobId: j.ID, OperationId: store.OperationID(j.ID, 0), State: queuev1.ResultState_RESULT_STATE_SUCCEEDED, Result: "1", Attempt: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.relay.publisher.write(ctx, queue.ResponseTopic, []kafka.Message{res}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the result", func() bool { return b.job(t, j.ID).Succeeded == 1 })
	b.clock.advance(5 * time.Minute)
	b.scan(t)
	waitFor(t, "the job to fail", func() bool { return b.job(t, j.ID).State().Terminal() })
	got := b.job(t, j.ID)
	if got.State() != store.JobFailed || got.Succeeded != 1 || got.Failed != 1 {
		t.Fatalf("job = %+v", got)
	}
	op, err := b.store.GetOperation(ctx, j.ID, store.OperationID(j.ID, 1))
	if err != nil || op.State != store.OpFailed || !strings.Contains(op.Error, "no result after 3 dispatches") {
		t.Fatalf("failed operation = %+v %v", op, err)
	}
	if n := len(b.requests.byAttempt(4)); n != 0 || b.republished("no_result") != 2 {
		t.Fatalf("%d dispatches beyond the maximum; %v operations re-dispatched, want the 2 of attempt 3", n, b.republished("no_result"))
	}
	// Finished: the next pass forgets its dispatch record.
	b.scan(t)
	if d, _ := b.store.Dispatches(ctx); len(d) != 0 {
		t.Fatalf("dispatch records left: %v", d)
	}
}

// TestRelayResendsLostCancellations: CancelJob stored its cancellations but
// could not publish them; the relay finds every operation with an outcome,
// counts the job from them, and the job ends CANCELLED.
func TestRelayResendsLostCancellations(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ctx := t.Context()
	j, _, _, err := b.store.CreateJob(ctx, store.NewJob{Operations: []store.OpInput{{Type: "expr", Request: "1"}, {Type: "expr", Request: "2"}, {Type: "expr", Request: "3"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.MarkPublished(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, claims, err := b.store.ClaimCancelled(ctx, j.ID); err != nil || len(claims) != 3 {
		t.Fatalf("cancel: %v %v", claims, err)
	}
	b.clock.advance(61 * time.Second)
	b.scan(t)
	waitFor(t, "the job to be cancelled", func() bool { return b.job(t, j.ID).State().Terminal() })
	if got := b.job(t, j.ID); got.State() != store.JobCancelled || got.Cancelled != 3 {
		t.Fatalf("job = %+v", got)
	}
	// Every operation has its outcome (the claims), so the relay counts the
	// job from them (reconciliation) and sends no request again.
	if n := len(b.requests.byAttempt(2)); n != 0 || b.republished("no_result") != 0 || b.republished("reconciled") != 1 {
		t.Fatalf("cancelled operations dispatched again: %d (counter %v); reconciled %v, want 1",
			n, b.republished("no_result"), b.republished("reconciled"))
	}
}

// TestRelaySingleHolder: of two relays, one scans; when it stops, the
// other takes over on its next tick.
func TestRelaySingleHolder(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ctx := t.Context()
	other := newRelay(b.relay.cfg, b.store, b.relay.publisher, b.relay.metrics, b.relay.log, "other")
	other.lease.SetClock(b.clock.now)
	if held, err := b.relay.lease.Tick(ctx); err != nil || !held {
		t.Fatalf("first: %v %v", held, err)
	}
	if held, err := other.lease.Tick(ctx); err != nil || held {
		t.Fatalf("second took a held lease: %v %v", held, err)
	}
	if err := b.relay.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.relay.Stop()
	b.relay.Stop() // twice is fine
	if held, err := other.lease.Tick(ctx); err != nil || !held {
		t.Fatalf("no handover after Stop: %v %v", held, err)
	}
}

// A CreateJobs batch has one outbox entry: when none of its jobs was
// published, the relay publishes every one of them and removes the entry.
// The entry is in the outbox collection or, written by a replica with
// OUTBOX_ENTRIES=active, in jobs_active.
func TestRelayPublishesABatchEntry(t *testing.T) {
	t.Parallel()
	for name, layout := range map[string]store.OutboxLayout{"batch": store.OutboxBatch, "active replica": store.OutboxActive} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testRelayPublishesABatchEntry(t, layout)
		})
	}
}

func testRelayPublishesABatchEntry(t *testing.T, layout store.OutboxLayout) {
	b := setupRelay(t)
	ctx := t.Context()
	creator := b.store
	if layout != store.OutboxBatch {
		var err error
		if creator, err = store.Open(ctx, store.Config{URI: b.mongoURI, Outbox: layout}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = creator.Close(context.Background()) })
	}
	out := creator.CreateJobs(ctx, []store.NewJob{
		{Operations: []store.OpInput{{Type: "expr", Request: "1"}, {Type: "expr", Request: "2"}}},
		{Operations: []store.OpInput{{Type: "expr", Request: "3"}}},
	})
	for _, c := range out {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
	}
	entries, err := b.store.Outbox(ctx)
	if err != nil || len(entries) != 1 || len(entries[0].Jobs()) != 2 {
		t.Fatalf("outbox = %+v, %v; want one entry for the batch", entries, err)
	}
	b.clock.advance(6 * time.Second)
	b.scan(t)
	waitFor(t, "both jobs' operations", func() bool { return len(b.requests.byAttempt(2)) == 3 })
	if entries, _ := b.store.Outbox(ctx); len(entries) != 0 {
		t.Fatalf("outbox still has %v", entries)
	}
}

// One job of a CreateJobs batch cannot be published (a request too large for
// the broker) while the other was published by its creator and only waits
// for a server. Whether the creator deferred the broken job
// (PublishDeferred) or died before, the relay must keep publishing only the
// broken job: publishing the healthy one at every scan raised its dispatch
// attempt until the relay failed it, long before RELAY_RESULT_TIMEOUT.
func TestRelayBatchWithAnUnpublishableJob(t *testing.T) {
	t.Parallel()
	for _, deferred := range []bool{true, false} {
		t.Run(fmt.Sprintf("deferred=%t", deferred), func(t *testing.T) {
			t.Parallel()
			b := setupRelay(t)
			ctx := t.Context()
			out := b.store.CreateJobs(ctx, []store.NewJob{
				{Operations: []store.OpInput{{Type: "expr", Request: "1"}}},
				{Operations: []store.OpInput{{Type: "expr", Request: strings.Repeat("x", 9<<20)}}},
			})
			for _, c := range out {
				if c.Err != nil {
					t.Fatal(c.Err)
				}
			}
			healthy, broken := out[0], out[1]
			if err := b.relay.publisher.publishOperations(ctx, healthy.Job, healthy.Ops, 1); err != nil {
				t.Fatal(err)
			}
			if err := b.store.MarkPublishedMany(ctx, []string{healthy.Job.ID}); err != nil {
				t.Fatal(err)
			}
			if err := b.relay.publisher.publishOperations(ctx, broken.Job, broken.Ops, 1); err == nil {
				t.Fatal("the oversized job was published")
			}
			if deferred {
				b.store.PublishDeferred(ctx, broken.Job)
			}
			b.clock.advance(6 * time.Second) // past OutboxDelay; the result timeout is a minute
			for range 5 {
				if held, _ := b.relay.lease.Tick(ctx); !held {
					t.Fatal("no lease")
				}
				_ = b.relay.scan(ctx) // the broken job's publish fails every time
				b.clock.advance(time.Second)
			}
			v, err := b.store.GetOperation(ctx, healthy.Job.ID, healthy.Ops[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.State != store.OpPending {
				t.Fatalf("the published job's operation is %s (%q) 11 s after creation", v.State, v.Error)
			}
			entries, err := b.store.Outbox(ctx)
			if err != nil || len(entries) != 1 || len(entries[0].JobIDs) != 0 || entries[0].ID != broken.Job.ID {
				t.Fatalf("outbox = %+v, %v; want the broken job's own entry only", entries, err)
			}
		})
	}
}
