package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/handler"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/jobplane/jobplane/pkg/telemetry"
	"github.com/segmentio/kafka-go"
)

func setupPool(t *testing.T) (*pool, *handler.Registry) {
	t.Helper()
	reg, err := handler.Builtins(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{NodeID: "n1", MaxAttempts: 3, HandlerTimeout: time.Second, Kafka: queue.Settings{ResponseTopic: "resp", DLQTopic: "dlq", RequestTopic: "req"}}
	return &pool{cfg: cfg, registry: reg, metrics: telemetry.NewMetrics(), log: slog.New(slog.DiscardHandler),
		sem: make(chan struct{}, 4), backoffBase: time.Millisecond}, reg
}

func TestRun(t *testing.T) {
	t.Parallel()
	p, reg := setupPool(t)
	var flaky atomic.Int32
	reg.Register("flaky", func(context.Context, handler.Request) (string, error) {
		if flaky.Add(1) < 3 {
			return "", errors.New("temporarily unavailable")
		}
		return "ok", nil
	})
	reg.Register("down", func(context.Context, handler.Request) (string, error) { return "", errors.New("still down") })
	reg.Register("panics", func(context.Context, handler.Request) (string, error) { panic("boom") })
	var permanentCalls atomic.Int32
	reg.Register("rejects", func(context.Context, handler.Request) (string, error) {
		permanentCalls.Add(1)
		return "", handler.Permanent(errors.New("bad input"))
	})
	tests := []struct {
		typ, input, want, errContains string
	}{
		{"expr", "3 / 4 + 1", "1", ""},
		{"expr", "1 +", "", "missing its right operand"},
		{"flaky", "", "ok", ""},
		{"down", "", "", "gave up after 3 attempts: still down"},
		{"panics", "", "", "handler panicked"},
		{"rejects", "", "", "bad input"},
		{"nope", "", "", `unknown operation type "nope"`},
	}
	for _, tt := range tests {
		got, err := p.run(context.Background(), &queuev1.OperationRequest{JobId: "j", OperationId: "j-0", Type: tt.typ, Request: tt.input, Attempt: 1})
		if got != tt.want || (tt.errContains == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.errContains)) {
			t.Errorf("%s(%q) = %q, %v; want %q, error containing %q", tt.typ, tt.input, got, err, tt.want, tt.errContains)
		}
	}
	if permanentCalls.Load() != 1 {
		t.Errorf("permanent failure called %d times, want 1 (no retry)", permanentCalls.Load())
	}
}

func TestProcessBuildsResultsAndDeadLetters(t *testing.T) {
	t.Parallel()
	p, _ := setupPool(t)
	req, _ := queue.EncodeRequest("req", []byte("key"), &queuev1.OperationRequest{JobId: "job-1", OperationId: "job-1-0", Type: "expr", Request: "34 * 2 + 1", Attempt: 1})
	out := p.process(context.Background(), &req)
	res, err := queue.DecodeResult(&out)
	if err != nil || out.Topic != "resp" || string(out.Key) != "job-1" {
		t.Fatalf("result message %+v: %v", out, err)
	}
	if res.GetState() != queuev1.ResultState_RESULT_STATE_SUCCEEDED || res.GetResult() != "69" || res.GetWorkerNode() != "n1" {
		t.Fatalf("result = %v", res)
	}
	poison := kafka.Message{Topic: "req", Partition: 3, Offset: 7, Key: []byte("k"), Value: []byte{0xff}}
	dl := p.process(context.Background(), &poison)
	reason, _ := queue.Header(&dl, queue.DLQReasonHeader)
	source, _ := queue.Header(&dl, queue.DLQSourceHeader)
	if dl.Topic != "dlq" || reason != "undecodable" || source != "req/3/7" || string(dl.Value) != string(poison.Value) {
		t.Fatalf("dead letter = %+v", dl)
	}
}
