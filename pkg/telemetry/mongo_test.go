package telemetry

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestMongoMonitor(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TracingConfig{ServiceName: "client-application", Exporter: exp, Syncer: true})
	if err != nil {
		t.Fatal(err)
	}
	mon := MongoMonitor(tr)
	ctx, parent := tr.Tracer().Start(context.Background(), "CreateJob")

	cmd, err := bson.Marshal(bson.D{{Key: "insert", Value: "operations"}, {Key: "documents", Value: bson.A{bson.D{{Key: "secret", Value: "x"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	started := func(id int64, name string, c bson.Raw) *event.CommandStartedEvent {
		return &event.CommandStartedEvent{Command: c, DatabaseName: "jobplane", CommandName: name, RequestID: id, ConnectionID: "127.0.0.1:27017[-3]"}
	}
	finished := func(id int64, name string) event.CommandFinishedEvent {
		return event.CommandFinishedEvent{CommandName: name, DatabaseName: "jobplane", RequestID: id, ConnectionID: "127.0.0.1:27017[-3]"}
	}
	mon.Started(ctx, started(1, "insert", cmd))
	mon.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: finished(1, "insert")})
	ping, _ := bson.Marshal(bson.D{{Key: "ping", Value: 1}})
	mon.Started(ctx, started(2, "ping", ping))
	mon.Failed(ctx, &event.CommandFailedEvent{CommandFinishedEvent: finished(2, "ping"), Failure: errors.New("boom")})
	// Outside a span: not traced.
	mon.Started(context.Background(), started(3, "find", cmd))
	mon.Succeeded(context.Background(), &event.CommandSucceededEvent{CommandFinishedEvent: finished(3, "find")})
	parent.End()

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans: %v", len(spans), spans.Snapshots())
	}
	ins, pg := spans[0], spans[1]
	if ins.Name != "insert operations" || ins.SpanKind != trace.SpanKindClient || ins.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("insert span %q %v parent %v", ins.Name, ins.SpanKind, ins.Parent)
	}
	attrs := map[string]string{}
	for _, kv := range ins.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{"db.system.name": "mongodb", "db.namespace": "jobplane", "db.operation.name": "insert",
		"db.collection.name": "operations", "server.address": "127.0.0.1", "server.port": "27017"} {
		if attrs[k] != v {
			t.Errorf("%s=%q, want %q", k, attrs[k], v)
		}
	}
	for _, kv := range ins.Attributes {
		if kv.Value.Emit() == "x" {
			t.Errorf("command document recorded: %v", kv)
		}
	}
	if pg.Name != "ping" || pg.Status.Code != codes.Error || len(pg.Events) == 0 {
		t.Errorf("failed ping span %q %v %v", pg.Name, pg.Status, pg.Events)
	}
}
