package queue

import (
	"context"
	"slices"
	"strconv"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// OperationTypeHeader carries the operation type on result messages (the
// OperationResult schema has no type): the client labels its
// submit-to-result latency histogram with it. Servers set only registered
// types (or "unknown"), so the label values stay bounded.
const OperationTypeHeader = "jobplane-operation-type"

// HeaderCarrier is a propagation.TextMapCarrier over the headers of a Kafka
// message, so that the W3C trace context (traceparent, tracestate) and
// baggage travel with it. Set replaces an existing header of the same key
// (a re-published message does not accumulate traceparents); Get returns
// the first.
type HeaderCarrier struct{ Headers *[]kafka.Header }

var _ propagation.TextMapCarrier = HeaderCarrier{}

// Carrier returns the carrier over m's headers.
func Carrier(m *kafka.Message) HeaderCarrier { return HeaderCarrier{&m.Headers} }

// Get returns the value of the first header named key, or "".
func (c HeaderCarrier) Get(key string) string {
	for _, h := range *c.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set sets the header key to value, replacing every header of that key.
func (c HeaderCarrier) Set(key, value string) {
	hs := (*c.Headers)[:0:0]
	for _, h := range *c.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	*c.Headers = append(hs, kafka.Header{Key: key, Value: []byte(value)})
}

// Keys lists the header keys (in order, duplicates included).
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(*c.Headers))
	for _, h := range *c.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}

// Messaging span names and attributes follow the OpenTelemetry messaging
// semantic conventions (semconv v1.43): "send <topic>" PRODUCER spans and
// "process <topic>" CONSUMER spans.

// StartSend starts the PRODUCER span of one WriteMessages call to topic and
// injects its context into every message: a consumer's process span is a
// child of it. A batch is one send span (messaging.batch.message_count);
// the message key is recorded when the batch has one message. A nil tracer
// means tracing is off: nothing is done (no allocation), a no-op span is
// returned.
func StartSend(ctx context.Context, tracer trace.Tracer, prop propagation.TextMapPropagator, topic string, msgs []kafka.Message) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, noop.Span{}
	}
	ctx, span := tracer.Start(ctx, "send "+topic, trace.WithSpanKind(trace.SpanKindProducer))
	if !span.IsRecording() {
		return ctx, span
	}
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKafka,
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
		semconv.MessagingDestinationName(topic),
	}
	if len(msgs) == 1 {
		attrs = append(attrs, semconv.MessagingKafkaMessageKey(string(msgs[0].Key)))
	} else {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
	}
	span.SetAttributes(attrs...)
	for i := range msgs {
		prop.Inject(ctx, Carrier(&msgs[i]))
	}
	return ctx, span
}

// StartProcess starts the CONSUMER span of processing one message of
// group: a child of the context the producer injected into its headers
// (when there is one, else of ctx). A nil tracer means tracing is off: a
// no-op span, no work.
func StartProcess(ctx context.Context, tracer trace.Tracer, prop propagation.TextMapPropagator, group string, m *kafka.Message) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, noop.Span{}
	}
	if slices.ContainsFunc(m.Headers, func(h kafka.Header) bool { return h.Key == "traceparent" }) { // skip the propagator without context (no string conversion)
		ctx = prop.Extract(ctx, Carrier(m))
	}
	ctx, span := tracer.Start(ctx, "process "+m.Topic, trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(m.Topic),
			semconv.MessagingDestinationPartitionID(strconv.Itoa(m.Partition)),
			semconv.MessagingKafkaMessageKey(string(m.Key)),
			semconv.MessagingKafkaOffset(int(m.Offset)),
			semconv.MessagingConsumerGroupName(group),
		)
	}
	return ctx, span
}

// Inject writes the span context of ctx into m's headers.
func Inject(ctx context.Context, prop propagation.TextMapPropagator, m *kafka.Message) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		prop.Inject(ctx, Carrier(m))
	}
}
