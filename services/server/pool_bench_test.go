package server

import (
	"context"
	"testing"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/telemetry"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkProcess runs one `expr` operation through the pool's process
// (decode, handler, result encoding) with tracing off (no
// OTEL_EXPORTER_OTLP_ENDPOINT) and on (every span sampled, batched to an
// exporter that discards), the request carrying a client's traceparent.
//
//	go test -run '^$' -bench Process -benchmem ./services/server/
func BenchmarkProcess(b *testing.B) {
	on, err := telemetry.NewTracing(context.Background(), telemetry.TracingConfig{ServiceName: "server-application", Exporter: discardExporter{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = on.Shutdown(context.Background()) })
	client, err := telemetry.NewTracing(context.Background(), telemetry.TracingConfig{ServiceName: "client-application", Exporter: discardExporter{}})
	if err != nil {
		b.Fatal(err)
	}
	m, err := queue.EncodeRequest("req", []byte("op"), &queuev1.OperationRequest{JobId: "j", OperationId: "j-0", Type: "expr", Request: "1 + 2 * 3 - 4 / 5", Attempt: 1})
	if err != nil {
		b.Fatal(err)
	}
	ctx, span := client.Tracer().Start(context.Background(), "CreateJob")
	queue.Inject(ctx, client.TextMap(), &m)
	span.End()
	for _, bc := range []struct {
		name    string
		tracing *telemetry.Tracing
	}{{"off", telemetry.NoopTracing()}, {"on", on}} {
		b.Run(bc.name, func(b *testing.B) {
			p, _ := setupPool(b)
			p.tracing = bc.tracing
			b.ReportAllocs()
			for b.Loop() {
				msg := m
				if out := p.process(context.Background(), &msg); len(out) != 1 {
					b.Fatalf("%d messages", len(out))
				}
			}
		})
	}
}
