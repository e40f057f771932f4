package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// otlpReceiver is an in-process OTLP/gRPC trace collector: it keeps every
// span it is sent, with its resource's service.name.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []recvSpan
}

type recvSpan struct {
	service string
	*tracev1.Span
}

func (r *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := attrString(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, recvSpan{service: service, Span: s})
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) snapshot() []recvSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

// startOTLPReceiver serves an otlpReceiver on a loopback port.
func startOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	rec := &otlpReceiver{}
	collectortrace.RegisterTraceServiceServer(srv, rec)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return rec, lis.Addr().String()
}

func attrString(attrs []*commonv1.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			v := kv.GetValue()
			if s, ok := v.GetValue().(*commonv1.AnyValue_StringValue); ok {
				return s.StringValue
			}
			if i, ok := v.GetValue().(*commonv1.AnyValue_IntValue); ok {
				return fmt.Sprint(i.IntValue)
			}
			return v.String()
		}
	}
	return ""
}

func (s recvSpan) attr(key string) string { return attrString(s.GetAttributes(), key) }

func (s recvSpan) String() string {
	return fmt.Sprintf("%s %q %v span=%s parent=%s", s.service, s.GetName(), s.GetKind(), hex.EncodeToString(s.GetSpanId()), hex.EncodeToString(s.GetParentSpanId()))
}

// traceOf groups spans of one trace by span id.
type traceOf map[string]recvSpan

// ancestor reports whether a is an ancestor of s in the trace.
func (tr traceOf) ancestor(a, s recvSpan) bool {
	for seen := 0; seen < len(tr); seen++ {
		p, ok := tr[string(s.GetParentSpanId())]
		if !ok {
			return false
		}
		if string(p.GetSpanId()) == string(a.GetSpanId()) {
			return true
		}
		s = p
	}
	return false
}

// TestTracingAcrossServices runs devstack with --otlp-endpoint pointing at
// an in-process OTLP receiver, creates a job with one operation over REST
// and checks that one trace holds its whole round trip: the REST and gRPC
// calls and the Kafka send on client-application, the Kafka process span
// and the handler on server-application (a descendant of the client's
// producer span, through the request's headers), and the result being
// applied back on client-application (a descendant of the server's span,
// through the result's headers), with the messaging semantic-convention
// attributes.
func TestTracingAcrossServices(t *testing.T) {
	t.Parallel()
	rec, addr := startOTLPReceiver(t)
	s := startStackArgs(t, 1, 1, []string{"--otlp-endpoint", addr}, "OTEL_BSP_SCHEDULE_DELAY=100")
	if !strings.Contains(s.out.String(), "traces    OTLP/gRPC to http://"+addr) {
		t.Errorf("devstack does not print the OTLP endpoint:\n%s", tail(s.out.String(), 30))
	}
	job := s.createText(t, "1 + 2 * 3\n")
	if j := s.awaitJob(t, job.ID, time.Minute); j.State != "JOB_STATE_SUCCEEDED" {
		t.Fatalf("job %+v", j)
	}

	const (
		reqTopic  = "application.operation.request"
		respTopic = "application.operation.response"
	)
	var (
		tr                      traceOf
		send, proc, handle, app recvSpan
		missing                 string
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing = ""
		spans := rec.snapshot()
		// The server's process span names the job.
		var traceID []byte
		for _, sp := range spans {
			if sp.service == "server-application" && sp.GetName() == "process "+reqTopic && sp.attr("jobplane.job_id") == job.ID {
				traceID, proc = sp.GetTraceId(), sp
			}
		}
		tr = traceOf{}
		if traceID == nil {
			missing = "the server's process span"
		} else {
			for _, sp := range spans {
				if string(sp.GetTraceId()) == string(traceID) {
					tr[string(sp.GetSpanId())] = sp
				}
			}
			find := func(service, name string) (recvSpan, bool) {
				for _, sp := range tr {
					if sp.service == service && sp.GetName() == name {
						return sp, true
					}
				}
				return recvSpan{}, false
			}
			var ok bool
			for _, want := range []struct {
				dst           *recvSpan
				service, name string
			}{
				{&send, "client-application", "send " + reqTopic},
				{&handle, "server-application", "handle expr"},
				{&app, "client-application", "process " + respTopic},
			} {
				if *want.dst, ok = find(want.service, want.name); !ok {
					missing += fmt.Sprintf(" %s %q;", want.service, want.name)
				}
			}
			for _, name := range []string{"POST", "jobplane.jobs.v1.JobService/CreateJob", "apply results"} {
				if _, ok := find("client-application", name); !ok {
					missing += fmt.Sprintf(" client-application %q;", name)
				}
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			var all []string
			for _, sp := range spans {
				all = append(all, sp.String())
			}
			t.Fatalf("trace incomplete after 30s, missing%s\nspans received:\n%s", missing, strings.Join(all, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an event
	}

	services := map[string]bool{}
	var lines []string
	for _, sp := range tr {
		services[sp.service] = true
		lines = append(lines, sp.String())
	}
	slices.Sort(lines)
	t.Logf("trace %s, %d spans:\n%s", hex.EncodeToString(proc.GetTraceId()), len(tr), strings.Join(lines, "\n"))
	if !services["client-application"] || !services["server-application"] || len(services) != 2 {
		t.Errorf("services in the trace: %v", services)
	}
	if send.GetKind() != tracev1.Span_SPAN_KIND_PRODUCER || proc.GetKind() != tracev1.Span_SPAN_KIND_CONSUMER || app.GetKind() != tracev1.Span_SPAN_KIND_CONSUMER {
		t.Errorf("kinds: send %v, process %v, apply %v", send.GetKind(), proc.GetKind(), app.GetKind())
	}
	check := func(sp recvSpan, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got := sp.attr(k); got != v {
				t.Errorf("%s: %s=%q, want %q", sp.GetName(), k, got, v)
			}
		}
	}
	opID := job.ID + "-0"
	check(send, map[string]string{"messaging.system": "kafka", "messaging.destination.name": reqTopic,
		"messaging.operation.type": "send", "messaging.kafka.message.key": opID})
	check(proc, map[string]string{"messaging.system": "kafka", "messaging.destination.name": reqTopic,
		"messaging.operation.type": "process", "messaging.kafka.message.key": opID,
		"messaging.consumer.group.name": "operation-request-group", "jobplane.operation_id": opID})
	check(app, map[string]string{"messaging.system": "kafka", "messaging.destination.name": respTopic,
		"messaging.consumer.group.name": "operation-response-group", "messaging.kafka.message.key": job.ID,
		"jobplane.operation.state": "succeeded"})
	for _, sp := range []recvSpan{proc, app} {
		if sp.attr("messaging.destination.partition.id") == "" || sp.attr("messaging.kafka.offset") == "" {
			t.Errorf("%s: no partition or offset: %v", sp.GetName(), sp.GetAttributes())
		}
	}
	if !tr.ancestor(send, proc) {
		t.Errorf("the server's process span %v does not descend from the client's producer span %v", proc, send)
	}
	if !tr.ancestor(proc, handle) {
		t.Errorf("the handler span %v is not under the process span %v", handle, proc)
	}
	if !tr.ancestor(proc, app) {
		t.Errorf("the client's apply span %v does not descend from the server's process span %v", app, proc)
	}
	// MongoDB commands of CreateJob are in the trace too.
	mongo := 0
	for _, sp := range tr {
		if sp.attr("db.system.name") == "mongodb" {
			mongo++
		}
	}
	if mongo == 0 {
		t.Errorf("no MongoDB command spans in the trace")
	}
}
