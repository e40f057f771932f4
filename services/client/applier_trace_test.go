package client

import (
	"context"
	"errors"
	"testing"

	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/store"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestApplyTracer checks how a batch of results is traced: a process span
// per message, the child of the server span its headers carry; the store
// call's span under the message's span for a batch of one, else a root
// span linked to every message's span.
func TestApplyTracer(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.NewTracing(context.Background(), telemetry.TracingConfig{ServiceName: "client-application", Exporter: exp, Syncer: true})
	if err != nil {
		t.Fatal(err)
	}
	// Two "server" spans whose contexts the results carry.
	var msgs []kafka.Message
	var servers []trace.SpanContext
	for range 2 {
		ctx, span := tr.Tracer().Start(context.Background(), "process application.operation.request")
		m := kafka.Message{Topic: "resp", Key: []byte("job")}
		queue.Inject(ctx, tr.TextMap(), &m)
		span.End()
		msgs, servers = append(msgs, m), append(servers, span.SpanContext())
	}
	exp.Reset()

	run := func(batch []kafka.Message, err error) tracetest.SpanStubs {
		exp.Reset()
		at := newApplyTracer(tr, "operation-response-group", len(batch))
		for i := range batch {
			at.start(context.Background(), &batch[i])
			at.result(&store.Result{ID: "op", JobID: "job", State: store.OpSucceeded})
		}
		at.startApply(context.Background())
		at.end(err)
		return exp.GetSpans()
	}

	one := run(msgs[:1], nil)
	if len(one) != 2 {
		t.Fatalf("%d spans", len(one))
	}
	proc, apply := one[0], one[1]
	if proc.Parent.SpanID() != servers[0].SpanID() || proc.SpanKind != trace.SpanKindConsumer {
		t.Errorf("process span parent %v kind %v", proc.Parent, proc.SpanKind)
	}
	if apply.Name != "apply results" || apply.Parent.SpanID() != proc.SpanContext.SpanID() {
		t.Errorf("apply span %q parent %v, want the message's span", apply.Name, apply.Parent)
	}

	two := run(msgs, errors.New("mongodb down"))
	if len(two) != 3 {
		t.Fatalf("%d spans", len(two))
	}
	apply = two[2]
	if apply.Parent.IsValid() || len(apply.Links) != 2 {
		t.Errorf("batch apply span: parent %v, %d links; want a root with 2 links", apply.Parent, len(apply.Links))
	}
	for i, s := range two {
		if s.Status.Code != codes.Error {
			t.Errorf("span %d (%s) status %v after a failed apply", i, s.Name, s.Status)
		}
		if i < 2 && (s.Parent.SpanID() != servers[i].SpanID() || apply.Links[i].SpanContext.SpanID() != s.SpanContext.SpanID()) {
			t.Errorf("message %d: parent %v, link %v", i, s.Parent, apply.Links[i].SpanContext)
		}
	}

	// Off: no spans, nothing to do.
	at := newApplyTracer(telemetry.NoopTracing(), "g", 1)
	if ctx := at.start(context.Background(), &msgs[0]); trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("tracing off extracted a context")
	}
	at.startApply(context.Background())
	at.end(nil)
}
