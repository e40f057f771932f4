package queue

import (
	"context"
	"slices"
	"testing"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestHeaderCarrier(t *testing.T) {
	t.Parallel()
	schema := kafka.Header{Key: SchemaHeader, Value: []byte(RequestSchema)}
	tests := []struct {
		name     string
		headers  []kafka.Header
		set      [][2]string // key, value pairs to Set in order
		get      string
		want     string
		wantKeys []string
	}{
		{name: "empty", get: "traceparent", want: "", wantKeys: []string{}},
		{name: "get first of duplicates", headers: []kafka.Header{{Key: "k", Value: []byte("1")}, {Key: "k", Value: []byte("2")}},
			get: "k", want: "1", wantKeys: []string{"k", "k"}},
		{name: "set adds", headers: []kafka.Header{schema}, set: [][2]string{{"traceparent", "00-a-b-01"}},
			get: "traceparent", want: "00-a-b-01", wantKeys: []string{SchemaHeader, "traceparent"}},
		{name: "set replaces every duplicate", headers: []kafka.Header{{Key: "traceparent", Value: []byte("old1")}, schema, {Key: "traceparent", Value: []byte("old2")}},
			set: [][2]string{{"traceparent", "new"}}, get: "traceparent", want: "new", wantKeys: []string{SchemaHeader, "traceparent"}},
		{name: "set twice keeps the last", set: [][2]string{{"tracestate", "a=1"}, {"tracestate", "a=2"}},
			get: "tracestate", want: "a=2", wantKeys: []string{"tracestate"}},
		{name: "keys are case sensitive", headers: []kafka.Header{{Key: "Traceparent", Value: []byte("x")}}, get: "traceparent", want: "", wantKeys: []string{"Traceparent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			orig := slices.Clone(tt.headers)
			m := kafka.Message{Headers: tt.headers}
			c := Carrier(&m)
			for _, kv := range tt.set {
				c.Set(kv[0], kv[1])
			}
			if got := c.Get(tt.get); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.get, got, tt.want)
			}
			if got := c.Keys(); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("Keys() = %q, want %q", got, tt.wantKeys)
			}
			// Set never writes through to a shared backing array.
			for i := range orig {
				if tt.headers[i].Key != orig[i].Key || string(tt.headers[i].Value) != string(orig[i].Value) {
					t.Errorf("Set modified the original headers: %v", tt.headers)
				}
			}
		})
	}
}

// TestTraceContextRoundTrip injects a span context into a message's headers
// with the W3C propagator and extracts the same context back.
func TestTraceContextRoundTrip(t *testing.T) {
	t.Parallel()
	prop := propagation.TraceContext{}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	m, err := EncodeRequest("topic", []byte("k"), &queuev1.OperationRequest{JobId: "j", OperationId: "j-0"})
	if err != nil {
		t.Fatal(err)
	}
	Inject(trace.ContextWithSpanContext(context.Background(), sc), prop, &m)
	if got, _ := Header(&m, "traceparent"); got != "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01" {
		t.Fatalf("traceparent = %q", got)
	}
	if _, err := DecodeRequest(&m); err != nil {
		t.Fatalf("the trace headers broke decoding: %v", err)
	}
	got := trace.SpanContextFromContext(prop.Extract(context.Background(), Carrier(&m)))
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || !got.IsRemote() {
		t.Fatalf("extracted %+v, want %+v (remote)", got, sc)
	}
	// Without a span context nothing is injected.
	m2 := kafka.Message{}
	Inject(context.Background(), prop, &m2)
	if len(m2.Headers) != 0 {
		t.Fatalf("headers %v injected without a span", m2.Headers)
	}
}

// TestSendProcessSpans checks the messaging spans: the process span is the
// child of the send span through the headers, with the semantic-convention
// attributes.
func TestSendProcessSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracer := tp.Tracer("test")
	prop := propagation.TraceContext{}

	msgs := []kafka.Message{{Topic: "req", Key: []byte("op-1")}}
	_, send := StartSend(context.Background(), tracer, prop, "req", msgs)
	send.End()
	msgs[0].Partition, msgs[0].Offset = 7, 42
	_, proc := StartProcess(context.Background(), tracer, prop, "group-1", &msgs[0])
	proc.End()

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	s, p := spans[0], spans[1]
	if s.Name() != "send req" || s.SpanKind() != trace.SpanKindProducer {
		t.Errorf("send span %q %v", s.Name(), s.SpanKind())
	}
	if p.Name() != "process req" || p.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process span %q %v", p.Name(), p.SpanKind())
	}
	if p.Parent().SpanID() != s.SpanContext().SpanID() || p.SpanContext().TraceID() != s.SpanContext().TraceID() {
		t.Errorf("process span's parent %v, want the send span %v", p.Parent(), s.SpanContext())
	}
	want := map[string]attribute.Value{
		"messaging.system":                   attribute.StringValue("kafka"),
		"messaging.destination.name":         attribute.StringValue("req"),
		"messaging.destination.partition.id": attribute.StringValue("7"),
		"messaging.kafka.message.key":        attribute.StringValue("op-1"),
		"messaging.kafka.offset":             attribute.IntValue(42),
		"messaging.consumer.group.name":      attribute.StringValue("group-1"),
		"messaging.operation.type":           attribute.StringValue("process"),
	}
	got := map[string]attribute.Value{}
	for _, kv := range p.Attributes() {
		got[string(kv.Key)] = kv.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("process attribute %s = %v, want %v", k, got[k].Emit(), v.Emit())
		}
	}
	sendAttrs := map[string]attribute.Value{}
	for _, kv := range s.Attributes() {
		sendAttrs[string(kv.Key)] = kv.Value
	}
	if sendAttrs["messaging.kafka.message.key"].AsString() != "op-1" || sendAttrs["messaging.operation.type"].AsString() != "send" {
		t.Errorf("send attributes %v", s.Attributes())
	}

	// A batch records its size instead of a key.
	batch := []kafka.Message{{Key: []byte("a")}, {Key: []byte("b")}}
	_, bs := StartSend(context.Background(), tracer, prop, "req", batch)
	bs.End()
	for _, m := range batch {
		if _, ok := Header(&m, "traceparent"); !ok {
			t.Errorf("batch message without traceparent")
		}
	}
	last := rec.Ended()[2]
	for _, kv := range last.Attributes() {
		if kv.Key == "messaging.batch.message_count" && kv.Value.AsInt64() != 2 {
			t.Errorf("batch count %v", kv.Value.Emit())
		}
		if kv.Key == "messaging.kafka.message.key" {
			t.Errorf("batch span has a key")
		}
	}
}

// TestSendOffInjectsNothing: with tracing off (no-op tracer) messages are
// left alone.
func TestSendOffInjectsNothing(t *testing.T) {
	t.Parallel()
	msgs := []kafka.Message{{Key: []byte("a")}}
	_, span := StartSend(context.Background(), noop.NewTracerProvider().Tracer(""), propagation.TraceContext{}, "req", msgs)
	span.End()
	if len(msgs[0].Headers) != 0 {
		t.Fatalf("headers %v", msgs[0].Headers)
	}
}

// FuzzHeaderCarrier extracts a trace context from arbitrary headers (a
// Kafka message is input from outside): it must never panic, and a
// context that extracts must inject back to the same traceparent.
func FuzzHeaderCarrier(f *testing.F) {
	f.Add("00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01", "a=1", "k", "v")
	f.Add("", "", "", "")
	f.Add("00-00000000000000000000000000000000-0000000000000000-00", "x", "traceparent", "zz")
	f.Add("ff-0102030405060708090a0b0c0d0e0f10-0102030405060708-01", "=,=", "baggage", "k=v;p")
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	f.Fuzz(func(t *testing.T, traceparent, tracestate, key, value string) {
		m := kafka.Message{Headers: []kafka.Header{
			{Key: "traceparent", Value: []byte(traceparent)},
			{Key: "tracestate", Value: []byte(tracestate)},
			{Key: key, Value: []byte(value)},
		}}
		ctx := prop.Extract(context.Background(), Carrier(&m))
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			return
		}
		out := kafka.Message{}
		prop.Inject(ctx, Carrier(&out))
		again := trace.SpanContextFromContext(prop.Extract(context.Background(), Carrier(&out)))
		if again.TraceID() != sc.TraceID() || again.SpanID() != sc.SpanID() || again.TraceFlags() != sc.TraceFlags() {
			t.Fatalf("round trip %v -> %v", sc, again)
		}
		c := Carrier(&out)
		if n := len(c.Keys()); n == 0 {
			t.Fatal("no headers injected")
		}
		c.Set("traceparent", "x")
		if got := c.Get("traceparent"); got != "x" {
			t.Fatalf("Set/Get %q", got)
		}
	})
}
