package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestLoggerTraceIDs(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()
	remote := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xaa, 1}, SpanID: trace.SpanID{0xbb, 2},
	}))

	tests := []struct {
		name             string
		log              func(l *slog.Logger)
		traceID, spanID  string
		wantMsg, wantKey string
	}{
		{"inside a span", func(l *slog.Logger) { l.InfoContext(ctx, "job created", "job_id", "j1") },
			sc.TraceID().String(), sc.SpanID().String(), "job created", "job_id"},
		{"through With", func(l *slog.Logger) { l.With("component", "relay").WarnContext(ctx, "w") },
			sc.TraceID().String(), sc.SpanID().String(), "w", "component"},
		{"remote parent (Kafka headers)", func(l *slog.Logger) { l.ErrorContext(remote, "e") },
			"aa010000000000000000000000000000", "bb02000000000000", "e", ""},
		{"no span", func(l *slog.Logger) { l.InfoContext(context.Background(), "plain") }, "", "", "plain", ""},
		{"no context", func(l *slog.Logger) { l.Info("plain") }, "", "", "plain", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l, err := NewLogger(&buf, "json", "debug")
			if err != nil {
				t.Fatal(err)
			}
			tt.log(l)
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("%q: %v", buf.String(), err)
			}
			if line["msg"] != tt.wantMsg {
				t.Errorf("msg %v", line["msg"])
			}
			if tt.wantKey != "" && line[tt.wantKey] == nil {
				t.Errorf("attribute %s lost: %v", tt.wantKey, line)
			}
			got, ok := line["trace_id"]
			if tt.traceID == "" {
				if ok || line["span_id"] != nil {
					t.Errorf("trace ids on a line outside a span: %v", line)
				}
				return
			}
			if got != tt.traceID || line["span_id"] != tt.spanID {
				t.Errorf("trace_id %v span_id %v, want %s %s", got, line["span_id"], tt.traceID, tt.spanID)
			}
		})
	}
}

func TestLoggerTextFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
	}))
	l.DebugContext(ctx, "hidden")
	l.InfoContext(ctx, "shown")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "trace_id=01000000000000000000000000000000 span_id=0200000000000000") {
		t.Fatalf("%q", out)
	}
	if _, err := NewLogger(&buf, "xml", ""); err == nil {
		t.Fatal("LOG_FORMAT=xml accepted")
	}
	if _, err := NewLogger(&buf, "", "loud"); err == nil {
		t.Fatal("LOG_LEVEL=loud accepted")
	}
}

// TraceHandler must not wrap twice.
func TestTraceHandlerIdempotent(t *testing.T) {
	t.Parallel()
	h := TraceHandler(slog.DiscardHandler)
	if TraceHandler(h) != h {
		t.Fatal("wrapped twice")
	}
}
