package telemetry

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// MongoMonitor returns a command monitor that traces MongoDB commands as
// CLIENT spans ("insert operations", db.system.name=mongodb, …): otelmongo
// has no release for mongo-driver v2. It returns nil when tracing is off,
// so the driver does no monitoring work at all.
//
// A command is traced only inside a span (a gRPC or REST call, a Kafka
// message being applied): background polling such as the relay's does not
// start a trace per command. The command document is never recorded (it
// holds user data).
func MongoMonitor(t *Tracing) *event.CommandMonitor {
	if !t.Enabled() {
		return nil
	}
	m := &mongoMonitor{tracer: t.Tracer(), spans: make(map[mongoKey]trace.Span)}
	return &event.CommandMonitor{Started: m.started, Succeeded: m.succeeded, Failed: m.failed}
}

type mongoKey struct {
	conn string
	id   int64
}

type mongoMonitor struct {
	tracer trace.Tracer
	mu     sync.Mutex
	spans  map[mongoKey]trace.Span
}

func (m *mongoMonitor) started(ctx context.Context, e *event.CommandStartedEvent) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	collection := mongoCollection(e)
	name := e.CommandName
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.DBSystemNameMongoDB, semconv.DBNamespace(e.DatabaseName), semconv.DBOperationName(e.CommandName))
	if collection != "" {
		name += " " + collection
		attrs = append(attrs, semconv.DBCollectionName(collection))
	}
	if host, port, ok := mongoPeer(e.ConnectionID); ok {
		attrs = append(attrs, semconv.ServerAddress(host), semconv.ServerPort(port))
	}
	_, span := m.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	m.mu.Lock()
	m.spans[mongoKey{e.ConnectionID, e.RequestID}] = span
	m.mu.Unlock()
}

func (m *mongoMonitor) take(e *event.CommandFinishedEvent) trace.Span {
	k := mongoKey{e.ConnectionID, e.RequestID}
	m.mu.Lock()
	defer m.mu.Unlock()
	span, ok := m.spans[k]
	if ok {
		delete(m.spans, k)
	}
	return span
}

func (m *mongoMonitor) succeeded(_ context.Context, e *event.CommandSucceededEvent) {
	if span := m.take(&e.CommandFinishedEvent); span != nil {
		span.End()
	}
}

func (m *mongoMonitor) failed(_ context.Context, e *event.CommandFailedEvent) {
	if span := m.take(&e.CommandFinishedEvent); span != nil {
		span.RecordError(e.Failure)
		span.SetStatus(codes.Error, e.Failure.Error())
		span.End()
	}
}

// mongoCollection is the collection a command names: the string value of
// its first element ({insert: "operations", …}), if any.
func mongoCollection(e *event.CommandStartedEvent) string {
	elems, err := e.Command.Elements()
	if err != nil || len(elems) == 0 {
		return ""
	}
	if s, ok := elems[0].Value().StringValueOK(); ok && elems[0].Key() == e.CommandName {
		return s
	}
	return ""
}

// mongoPeer parses a driver connection id ("host:port[-n]").
func mongoPeer(connID string) (string, int, bool) {
	if i := strings.LastIndexByte(connID, '['); i > 0 {
		connID = connID[:i]
	}
	host, p, err := net.SplitHostPort(connID)
	if err != nil {
		return "", 0, false
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, false
	}
	return host, port, true
}
