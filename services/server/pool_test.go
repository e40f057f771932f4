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

func setupPool(t testing.TB) (*pool, *handler.Registry) {
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
	p, reg := setupPool(t)
	reg.Register("panics", func(context.Context, handler.Request) (string, error) { panic("boom") })
	reg.Register("down", func(context.Context, handler.Request) (string, error) { return "", errors.New("still down") })
	request := func(typ, input string) kafka.Message {
		m, err := queue.EncodeRequest("req", []byte("key"), &queuev1.OperationRequest{JobId: "job-1", OperationId: "job-1-0", Type: typ, Request: input, Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		m.Partition, m.Offset = 3, 7
		return m
	}
	checkDeadLetter := func(dl kafka.Message, wantReason string, from kafka.Message) {
		t.Helper()
		reason, _ := queue.Header(&dl, queue.DLQReasonHeader)
		source, _ := queue.Header(&dl, queue.DLQSourceHeader)
		msg, _ := queue.Header(&dl, queue.DLQErrorHeader)
		if dl.Topic != "dlq" || reason != wantReason || source != "req/3/7" || string(dl.Value) != string(from.Value) || msg == "" {
			t.Fatalf("dead letter = %+v, want reason %s", dl, wantReason)
		}
	}

	tests := []struct {
		name, typ, input string
		state            queuev1.ResultState
		result, errPart  string
		dlqReason        string // "" = no dead letter
	}{
		{"succeeds", "expr", "34 * 2 + 1", queuev1.ResultState_RESULT_STATE_SUCCEEDED, "69", "", ""},
		{"caller's expression fails, no dead letter", "expr", "1 +", queuev1.ResultState_RESULT_STATE_FAILED, "", "missing its right operand", ""},
		{"unknown type", "nope", "x", queuev1.ResultState_RESULT_STATE_FAILED, "", `unknown operation type "nope"`, "unknown_type"},
		{"retries exhausted", "down", "x", queuev1.ResultState_RESULT_STATE_FAILED, "", "gave up after 3 attempts", "retries_exhausted"},
		{"panic", "panics", "x", queuev1.ResultState_RESULT_STATE_FAILED, "", "handler panicked", "handler_panic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := request(tt.typ, tt.input)
			out := p.process(context.Background(), &in)
			if len(out) == 0 {
				t.Fatal("no messages")
			}
			res, err := queue.DecodeResult(&out[0])
			if err != nil || out[0].Topic != "resp" || string(out[0].Key) != "job-1" {
				t.Fatalf("result message %+v: %v", out[0], err)
			}
			if res.GetState() != tt.state || res.GetResult() != tt.result || !strings.Contains(res.GetError(), tt.errPart) || res.GetWorkerNode() != "n1" {
				t.Fatalf("result = %v", res)
			}
			if tt.dlqReason == "" {
				if len(out) != 1 {
					t.Fatalf("unexpected dead letter: %+v", out[1:])
				}
				return
			}
			if len(out) != 2 {
				t.Fatalf("no dead letter: %+v", out)
			}
			checkDeadLetter(out[1], tt.dlqReason, in)
		})
	}

	poison := kafka.Message{Topic: "req", Partition: 3, Offset: 7, Key: []byte("k"), Value: []byte{0xff}}
	out := p.process(context.Background(), &poison)
	if len(out) != 1 {
		t.Fatalf("poison gave %d messages", len(out))
	}
	checkDeadLetter(out[0], "undecodable", poison)
}
