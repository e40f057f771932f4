package telemetry

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns a JSON (or text) slog logger at the given level
// ("debug", "info", "warn", "error"). A line logged with a context inside a
// span carries its trace_id and span_id (see TraceHandler).
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(cmp.Or(level, "info"))); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(cmp.Or(format, "json")) {
	case "json":
		return slog.New(TraceHandler(slog.NewJSONHandler(w, opts))), nil
	case "text":
		return slog.New(TraceHandler(slog.NewTextHandler(w, opts))), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT %q: want json or text", format)
	}
}

// ServiceLogger returns base (or, when nil, a new logger of the given format
// and level on stderr) with the service name and node id on every line.
func ServiceLogger(base *slog.Logger, format, level, service, nodeID string) (*slog.Logger, error) {
	if base == nil {
		var err error
		if base, err = NewLogger(os.Stderr, format, level); err != nil {
			return nil, err
		}
	}
	return base.With("service", service, "node_id", nodeID), nil
}

// TraceHandler wraps h so that every record logged with a context that
// carries a valid span context (log.InfoContext(ctx, …) inside a span, or
// with a remote parent extracted from a Kafka message) gets the attributes
// trace_id and span_id, the hex ids Jaeger and Grafana search by. Records
// without such a context are passed through unchanged.
func TraceHandler(h slog.Handler) slog.Handler {
	if th, ok := h.(traceHandler); ok {
		return th
	}
	return traceHandler{h}
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
