package queue

import (
	"context"
	"testing"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkMessageTracing measures what tracing adds to one operation's
// trip through Kafka: encode a request, send span + inject, then extract +
// process span, decode. "untraced" is the same work without the tracing
// calls; "off" is what the services do without OTEL_EXPORTER_OTLP_ENDPOINT
// (a nil tracer); "noop" is the OpenTelemetry no-op tracer, for comparison;
// "on" is the SDK, every span sampled, batching to an exporter that
// discards.
//
//	go test -run '^$' -bench MessageTracing -benchmem ./pkg/queue/
func BenchmarkMessageTracing(b *testing.B) {
	req := &queuev1.OperationRequest{JobId: "0199a0c4-7d4e-7000-8000-000000000000", OperationId: "0199a0c4-7d4e-7000-8000-000000000000-0", Type: "expr", Request: "1 + 2 * 3", Attempt: 1}
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
	b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	for _, bc := range []struct {
		name   string
		tracer trace.Tracer
	}{
		{"untraced", nil}, // the same work without the tracing calls
		{"off", nil},      // what the services do when tracing is off
		{"noop", noop.NewTracerProvider().Tracer("")},
		{"on", sdk.Tracer("")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				m, err := EncodeRequest(RequestTopic, []byte(req.OperationId), req)
				if err != nil {
					b.Fatal(err)
				}
				msgs := []kafka.Message{m}
				if bc.name == "untraced" {
					if _, err := DecodeRequest(&msgs[0]); err != nil {
						b.Fatal(err)
					}
					continue
				}
				_, send := StartSend(ctx, bc.tracer, prop, RequestTopic, msgs)
				send.End()
				_, proc := StartProcess(ctx, bc.tracer, prop, "operation-request-group", &msgs[0])
				if _, err := DecodeRequest(&msgs[0]); err != nil {
					b.Fatal(err)
				}
				proc.End()
			}
		})
	}
}
