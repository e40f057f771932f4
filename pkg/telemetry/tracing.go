package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName names the tracers of jobplane's own spans.
const InstrumentationName = "github.com/jobplane/jobplane"

// TracingConfig configures NewTracing. Everything else comes from the
// standard OTEL_* variables, which the OpenTelemetry SDK reads itself:
//
//   - OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT):
//     the OTLP/gRPC collector, e.g. http://localhost:4317 (http:// means
//     plaintext). Without it tracing is off: a no-op provider, no exporter.
//   - OTEL_TRACES_EXPORTER: "otlp" (default) or "none" (off).
//   - OTEL_SDK_DISABLED=true: off.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: the sampler, default
//     parentbased_always_on; e.g. parentbased_traceidratio with 0.1.
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource.
//   - OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _INSECURE,
//     _CERTIFICATE, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE, …
//
// Reading them in the SDK rather than in the services' ConfigFromEnv keeps
// the standard semantics exactly (and deploy/env_test.go lists them as read
// by the SDK).
type TracingConfig struct {
	// ServiceName is service.name when OTEL_SERVICE_NAME does not set it
	// (client-application, server-application).
	ServiceName string
	// InstanceID is service.instance.id (the NODE_ID).
	InstanceID string
	// Exporter, when set, replaces the OTLP exporter and turns tracing on
	// whatever the environment says (tests).
	Exporter sdktrace.SpanExporter
	// Syncer exports each span as it ends instead of in batches (tests).
	Syncer bool
	// Logger, when set, receives the SDK's errors (a collector that cannot
	// be reached, …) instead of the standard library logger. The SDK's
	// error handler is process-wide.
	Logger *slog.Logger
}

// Tracing is the tracer provider of a service and the propagator of the
// W3C trace context (and baggage) it uses on gRPC, HTTP and Kafka headers.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	sdk        *sdktrace.TracerProvider // nil when off
}

// Propagator is the W3C trace-context and baggage propagator.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// NoopTracing is tracing switched off.
func NoopTracing() *Tracing {
	return &Tracing{Provider: noop.NewTracerProvider(), Propagator: Propagator()}
}

// TracingEnabled reports whether the environment asks for trace export:
// an OTLP endpoint is set and neither OTEL_SDK_DISABLED nor
// OTEL_TRACES_EXPORTER=none turns it off.
func TracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) != "" ||
		strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != ""
}

// NewTracing returns the tracing of a service: off (no-op) unless
// TracingEnabled or cfg.Exporter; otherwise an SDK provider exporting over
// OTLP/gRPC in batches. Call Shutdown last, to flush.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	exp := cfg.Exporter
	if exp == nil {
		if !TracingEnabled(os.Getenv) {
			return NoopTracing(), nil
		}
		if e := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); e != "" && e != "otlp" {
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp or none", e)
		}
		for _, k := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
			if p := strings.TrimSpace(os.Getenv(k)); p != "" && p != "grpc" {
				return nil, fmt.Errorf("%s %q: only grpc is supported", k, p)
			}
		}
		var err error
		// New does not connect: an unreachable collector costs dropped
		// spans, never a failed start.
		if exp, err = otlptracegrpc.New(ctx); err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
	}
	if cfg.Logger != nil {
		log := cfg.Logger
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry", "err", err) }))
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(cfg.ServiceName)}
	if cfg.InstanceID != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(cfg.InstanceID))
	}
	// Later detectors win: OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
	// override the defaults.
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil && res == nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.Syncer {
		opts = append(opts, sdktrace.WithSyncer(exp))
	} else {
		opts = append(opts, sdktrace.WithBatcher(exp)) // OTEL_BSP_* apply
	}
	// No WithSampler: the SDK reads OTEL_TRACES_SAMPLER(_ARG).
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracing{Provider: tp, Propagator: Propagator(), sdk: tp}, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.sdk != nil }

// Tracer returns jobplane's tracer; a no-op one on nil.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer(InstrumentationName)
	}
	return t.Provider.Tracer(InstrumentationName)
}

// ActiveTracer returns jobplane's tracer, or nil when tracing is off: the
// Kafka helpers of package queue then skip all tracing work.
func (t *Tracing) ActiveTracer() trace.Tracer {
	if !t.Enabled() {
		return nil
	}
	return t.Tracer()
}

// TextMap returns the propagator; the default one on nil.
func (t *Tracing) TextMap() propagation.TextMapPropagator {
	if t == nil || t.Propagator == nil {
		return Propagator()
	}
	return t.Propagator
}

// Shutdown flushes the spans not yet exported and stops the exporter,
// within ctx. Safe on nil and on the no-op tracing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}

// FlushOnReturn returns what a service's Run defers first, so that flushing
// the spans is the last step of its shutdown: Shutdown, bounded by timeout
// and detached from ctx's cancellation, with a failure logged.
func (t *Tracing) FlushOnReturn(ctx context.Context, timeout time.Duration, log *slog.Logger) func() {
	return func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if err := t.Shutdown(fctx); err != nil {
			log.Warn("trace flush", "err", err)
		}
	}
}
