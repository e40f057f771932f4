package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestTracingEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "x"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4317"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "TRUE"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "false"}, true},
	}
	for _, tt := range tests {
		if got := TracingEnabled(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.env, got, tt.want)
		}
	}
}

// Not parallel: t.Setenv.
func TestNewTracingOffWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := NewTracing(context.Background(), TracingConfig{ServiceName: "client-application"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || MongoMonitor(tr) != nil || tr.GRPCServerOptions() != nil || tr.GRPCDialOptions() != nil {
		t.Fatal("tracing on without an endpoint")
	}
	_, span := tr.Tracer().Start(context.Background(), "x")
	if span.IsRecording() {
		t.Fatal("no-op span records")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var nilTracing *Tracing
	if nilTracing.Enabled() || nilTracing.Tracer() == nil || nilTracing.TextMap() == nil || nilTracing.Shutdown(context.Background()) != nil {
		t.Fatal("nil tracing")
	}
}

func TestNewTracingRejectsUnsupportedExporter(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	if _, err := NewTracing(context.Background(), TracingConfig{}); err == nil {
		t.Fatal("OTEL_TRACES_EXPORTER=zipkin accepted")
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	if _, err := NewTracing(context.Background(), TracingConfig{}); err == nil {
		t.Fatal("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf accepted")
	}
}

// TestNewTracingOTLP builds the real exporter (it does not connect until
// spans are exported) and flushes within a deadline even though nothing
// listens.
func TestNewTracingOTLP(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200")
	tr, err := NewTracing(context.Background(), TracingConfig{ServiceName: "server-application"})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() || MongoMonitor(tr) == nil || len(tr.GRPCServerOptions()) != 1 || len(tr.GRPCDialOptions()) != 1 {
		t.Fatal("tracing off with an endpoint")
	}
	_, span := tr.Tracer().Start(context.Background(), "x")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 2e9)
	defer cancel()
	_ = tr.Shutdown(ctx) // an export error is expected; it must return
}

func TestTracingResourceAndSampler(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantService string
		wantAttr    string // key=value expected on the resource, or ""
		wantSampled bool
	}{
		{"defaults", nil, "client-application", "service.instance.id=client-0", true},
		{"OTEL_SERVICE_NAME wins", map[string]string{"OTEL_SERVICE_NAME": "jobplane-client"}, "jobplane-client", "", true},
		{"OTEL_RESOURCE_ATTRIBUTES", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,service.name=from-attrs"},
			"from-attrs", "deployment.environment.name=prod", true},
		{"ratio 0", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
			"client-application", "", false},
		{"ratio 1", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"},
			"client-application", "", true},
		{"always off", map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, "client-application", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"} {
				t.Setenv(k, tt.env[k])
			}
			exp := tracetest.NewInMemoryExporter()
			tr, err := NewTracing(context.Background(), TracingConfig{ServiceName: "client-application", InstanceID: "client-0", Exporter: exp, Syncer: true})
			if err != nil {
				t.Fatal(err)
			}
			_, span := tr.Tracer().Start(context.Background(), "root")
			span.End()
			spans := exp.GetSpans() // before Shutdown, which clears them
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !tt.wantSampled {
				if len(spans) != 0 {
					t.Fatalf("%d spans exported, want none", len(spans))
				}
				return
			}
			if len(spans) != 1 {
				t.Fatalf("%d spans exported", len(spans))
			}
			attrs := map[string]string{}
			for _, kv := range spans[0].Resource.Attributes() {
				attrs[string(kv.Key)] = kv.Value.Emit()
			}
			if attrs["service.name"] != tt.wantService {
				t.Errorf("service.name %q, want %q (%v)", attrs["service.name"], tt.wantService, attrs)
			}
			if tt.wantAttr != "" {
				k, v, _ := cut(tt.wantAttr)
				if attrs[k] != v {
					t.Errorf("%s=%q, want %q", k, attrs[k], v)
				}
			}
			if attrs["telemetry.sdk.language"] != "go" {
				t.Errorf("no telemetry.sdk attributes: %v", attrs)
			}
		})
	}
}

// A sampled remote parent keeps a child sampled under
// parentbased_traceidratio with ratio 0 (the server follows the client's
// decision).
func TestParentBasedFollowsRemoteParent(t *testing.T) {
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0")
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TracingConfig{ServiceName: "server-application", Exporter: exp, Syncer: true})
	if err != nil {
		t.Fatal(err)
	}
	parent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	}))
	_, span := tr.Tracer().Start(parent, "child")
	span.End()
	if n := len(exp.GetSpans()); n != 1 {
		t.Fatalf("%d spans, want the sampled child", n)
	}
}

func cut(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
