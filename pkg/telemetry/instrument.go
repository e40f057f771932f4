package telemetry

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"
)

// The instrumentation libraries also record OpenTelemetry metrics; the
// services export Prometheus metrics of their own, so those go to a no-op
// meter provider (not the global one).

// GRPCServerOptions returns the options that trace a gRPC server's calls
// (otelgrpc stats handler; health checks are not traced). None when tracing
// is off: then gRPC does no tracing work at all.
func (t *Tracing) GRPCServerOptions() []grpc.ServerOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.Provider),
		otelgrpc.WithPropagators(t.TextMap()),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
	))}
}

// GRPCDialOptions returns the options that trace a gRPC client connection's
// calls and propagate their context (the REST gateway's connection). None
// when tracing is off.
func (t *Tracing) GRPCDialOptions() []grpc.DialOption {
	if !t.Enabled() {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.Provider),
		otelgrpc.WithPropagators(t.TextMap()),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
	))}
}

// HTTPHandler wraps h in an otelhttp SERVER span named after the method
// ("POST", …: the gRPC span below it names the method called). h itself
// when tracing is off.
func (t *Tracing) HTTPHandler(h http.Handler, operation string) http.Handler {
	if !t.Enabled() {
		return h
	}
	return otelhttp.NewHandler(h, operation,
		otelhttp.WithTracerProvider(t.Provider),
		otelhttp.WithPropagators(t.TextMap()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}
