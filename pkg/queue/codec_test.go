package queue_test

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestRequestRoundTrip(t *testing.T) {
	t.Parallel()
	in := &queuev1.OperationRequest{JobId: "j", OperationId: "j-0", Type: "expr", Request: "1 + 2", Attempt: 1}
	m, err := queue.EncodeRequest("topic", []byte("j-0"), in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := queue.DecodeRequest(&m)
	if err != nil || !proto.Equal(in, out) {
		t.Fatalf("round trip: %v %v", out, err)
	}
	if schema, _ := queue.Header(&m, queue.SchemaHeader); schema != "jobplane.queue.v1.OperationRequest" {
		t.Fatalf("schema header %q", schema)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good, _ := queue.EncodeResult("t", nil, &queuev1.OperationResult{JobId: "j", OperationId: "j-0", State: queuev1.ResultState_RESULT_STATE_SUCCEEDED})
	noState, _ := queue.EncodeResult("t", nil, &queuev1.OperationResult{JobId: "j", OperationId: "j-0"})
	noIDs, _ := queue.EncodeResult("t", nil, &queuev1.OperationResult{State: queuev1.ResultState_RESULT_STATE_FAILED})
	req, _ := queue.EncodeRequest("t", nil, &queuev1.OperationRequest{JobId: "j", OperationId: "j-0"})
	tests := map[string]kafka.Message{
		"no schema header": {Value: good.Value},
		"wrong schema":     {Value: good.Value, Headers: req.Headers},
		"garbage":          {Value: []byte{0xff, 0xff, 0xff}, Headers: good.Headers},
		"no state":         noState,
		"no ids":           noIDs,
	}
	for name, m := range tests {
		if _, err := queue.DecodeResult(&m); !errors.Is(err, queue.ErrUndecodable) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := queue.DecodeResult(&good); err != nil {
		t.Fatalf("good result: %v", err)
	}
}

// Real messages, as the client's publisher and the server's pool build them,
// for the seed corpora.
var (
	seedTime     = timestamppb.New(time.Date(2025, 7, 1, 12, 0, 0, 123456789, time.UTC))
	seedRequests = []*queuev1.OperationRequest{
		{JobId: "0190f8a2-1234-7abc-8def-0123456789ab", OperationId: "0190f8a2-1234-7abc-8def-0123456789ab-0", Type: "expr", Request: "1 + 2 + 3 - 7 * 2", Attempt: 1, SubmitTime: seedTime},
		{JobId: "0190f8a2-1234-7abc-8def-0123456789ab", OperationId: "0190f8a2-1234-7abc-8def-0123456789ab-9", Type: "encrypt", Request: "secret", Attempt: 3, PartitionKey: "tenant-a", SubmitTime: seedTime},
		{JobId: "j", OperationId: "j-0", Type: "expr", Request: "1"},
		{JobId: "j"},    // no operation id: undecodable
		{Request: "69"}, // no ids: undecodable
	}
	seedResults = []*queuev1.OperationResult{
		{JobId: "0190f8a2-1234-7abc-8def-0123456789ab", OperationId: "0190f8a2-1234-7abc-8def-0123456789ab-0", State: queuev1.ResultState_RESULT_STATE_SUCCEEDED, Result: "-8", WorkerNode: "server-0", Attempt: 1, SubmitTime: seedTime, StartTime: seedTime, EndTime: seedTime},
		{JobId: "j", OperationId: "j-2", State: queuev1.ResultState_RESULT_STATE_FAILED, Error: "syntax error: unexpected end of expression", Attempt: 2},
		{JobId: "j", OperationId: "j-3", State: queuev1.ResultState_RESULT_STATE_CANCELLED},
		{JobId: "j", OperationId: "j-4"},                                 // no state: undecodable
		{JobId: "j", OperationId: "j-5", State: queuev1.ResultState(42)}, // unknown state: undecodable
	}
)

// FuzzDecodeRequest decodes arbitrary values under arbitrary schema headers.
// Every error wraps ErrUndecodable; an accepted message had the request
// schema header and both ids, and re-encoding it decodes to an equal
// request (decode(encode(decode(v))) == decode(v)).
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range seedRequests {
		v, _ := proto.Marshal(r)
		f.Add(v, queue.RequestSchema)
	}
	res, _ := proto.Marshal(seedResults[0])
	f.Add(res, queue.RequestSchema)
	f.Add(res, queue.ResultSchema)
	f.Add([]byte{}, queue.RequestSchema)
	f.Add([]byte{0x0a, 0x80}, queue.RequestSchema)
	f.Add([]byte{0x0a, 0x01, 0xff, 0x12, 0x01, 0x61}, queue.RequestSchema) // invalid UTF-8 job id
	f.Add([]byte{}, "")
	f.Add([]byte{}, "jobplane.queue.v2.OperationRequest")
	f.Fuzz(func(t *testing.T, value []byte, schema string) {
		msg := kafka.Message{Value: value, Headers: []kafka.Header{{Key: queue.SchemaHeader, Value: []byte(schema)}}}
		req, err := queue.DecodeRequest(&msg)
		if err != nil {
			if req != nil || !errors.Is(err, queue.ErrUndecodable) {
				t.Fatalf("DecodeRequest = %v, %v: want nil and an ErrUndecodable", req, err)
			}
			return
		}
		if schema != queue.RequestSchema || req.GetJobId() == "" || req.GetOperationId() == "" {
			t.Fatalf("accepted request %v with schema %q", req, schema)
		}
		m, err := queue.EncodeRequest("t", []byte("k"), req)
		if err != nil {
			t.Fatalf("re-encode %v: %v", req, err)
		}
		again, err := queue.DecodeRequest(&m)
		if err != nil || !proto.Equal(req, again) {
			t.Fatalf("decode(encode(%v)) = %v, %v", req, again, err)
		}
	})
}

// FuzzDecodeResult is FuzzDecodeRequest for results; an accepted result
// also has a terminal state.
func FuzzDecodeResult(f *testing.F) {
	for _, r := range seedResults {
		v, _ := proto.Marshal(r)
		f.Add(v, queue.ResultSchema)
	}
	req, _ := proto.Marshal(seedRequests[0])
	f.Add(req, queue.ResultSchema)
	f.Add(req, queue.RequestSchema)
	f.Add([]byte{}, queue.ResultSchema)
	f.Add([]byte{0x18, 0xff, 0xff, 0xff, 0xff, 0x0f}, queue.ResultSchema) // state -1
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, value []byte, schema string) {
		msg := kafka.Message{Value: value, Headers: []kafka.Header{{Key: queue.SchemaHeader, Value: []byte(schema)}}}
		res, err := queue.DecodeResult(&msg)
		if err != nil {
			if res != nil || !errors.Is(err, queue.ErrUndecodable) {
				t.Fatalf("DecodeResult = %v, %v: want nil and an ErrUndecodable", res, err)
			}
			return
		}
		if schema != queue.ResultSchema || res.GetJobId() == "" || res.GetOperationId() == "" {
			t.Fatalf("accepted result %v with schema %q", res, schema)
		}
		switch res.GetState() {
		case queuev1.ResultState_RESULT_STATE_SUCCEEDED, queuev1.ResultState_RESULT_STATE_FAILED, queuev1.ResultState_RESULT_STATE_CANCELLED:
		default:
			t.Fatalf("accepted result with state %v", res.GetState())
		}
		m, err := queue.EncodeResult("t", []byte("k"), res)
		if err != nil {
			t.Fatalf("re-encode %v: %v", res, err)
		}
		again, err := queue.DecodeResult(&m)
		if err != nil || !proto.Equal(res, again) {
			t.Fatalf("decode(encode(%v)) = %v, %v", res, again, err)
		}
	})
}

// FuzzRequestRoundTrip encodes arbitrary requests: encoding fails only for
// invalid UTF-8 (proto3 strings), the message keeps topic, key and schema,
// and decoding gives back an equal request, or ErrUndecodable exactly when
// an id is missing.
func FuzzRequestRoundTrip(f *testing.F) {
	for _, r := range seedRequests {
		f.Add(r.GetJobId(), r.GetOperationId(), r.GetType(), r.GetRequest(), r.GetPartitionKey(), r.GetAttempt(), r.GetSubmitTime().GetSeconds(), r.GetSubmitTime().GetNanos())
	}
	f.Add("j", "j-0", "expr", "1\xff", "", int32(-1), int64(-1), int32(-1))
	f.Fuzz(func(t *testing.T, jobID, opID, typ, request, partitionKey string, attempt int32, sec int64, nanos int32) {
		in := &queuev1.OperationRequest{JobId: jobID, OperationId: opID, Type: typ, Request: request, Attempt: attempt, PartitionKey: partitionKey}
		if sec != 0 || nanos != 0 {
			in.SubmitTime = &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}
		}
		m, err := queue.EncodeRequest("topic", []byte(opID), in)
		valid := allUTF8(jobID, opID, typ, request, partitionKey)
		if err != nil {
			if valid {
				t.Fatalf("EncodeRequest(%v): %v", in, err)
			}
			return
		}
		if !valid {
			t.Fatalf("EncodeRequest(%v) accepted invalid UTF-8", in)
		}
		if schema, _ := queue.Header(&m, queue.SchemaHeader); m.Topic != "topic" || string(m.Key) != opID || schema != queue.RequestSchema {
			t.Fatalf("message topic %q key %q schema %q", m.Topic, m.Key, schema)
		}
		out, err := queue.DecodeRequest(&m)
		if jobID == "" || opID == "" {
			if !errors.Is(err, queue.ErrUndecodable) {
				t.Fatalf("request without ids decoded: %v, %v", out, err)
			}
			return
		}
		if err != nil || !proto.Equal(in, out) {
			t.Fatalf("decode(encode(%v)) = %v, %v", in, out, err)
		}
	})
}

// FuzzResultRoundTrip is FuzzRequestRoundTrip for results: ErrUndecodable
// exactly when an id is missing or the state is not terminal.
func FuzzResultRoundTrip(f *testing.F) {
	for _, r := range seedResults {
		f.Add(r.GetJobId(), r.GetOperationId(), int32(r.GetState()), r.GetResult(), r.GetError(), r.GetWorkerNode(), r.GetAttempt(), r.GetEndTime().GetSeconds())
	}
	f.Add("j", "j-0", int32(1), "\xff", "", "", int32(0), int64(0))
	f.Fuzz(func(t *testing.T, jobID, opID string, state int32, result, errMsg, worker string, attempt int32, sec int64) {
		in := &queuev1.OperationResult{
			JobId: jobID, OperationId: opID, State: queuev1.ResultState(state), Result: result, Error: errMsg,
			WorkerNode: worker, Attempt: attempt,
		}
		if sec != 0 {
			in.StartTime = &timestamppb.Timestamp{Seconds: sec}
			in.EndTime = &timestamppb.Timestamp{Seconds: sec, Nanos: 1}
		}
		m, err := queue.EncodeResult("topic", []byte(jobID), in)
		valid := allUTF8(jobID, opID, result, errMsg, worker)
		if err != nil {
			if valid {
				t.Fatalf("EncodeResult(%v): %v", in, err)
			}
			return
		}
		if !valid {
			t.Fatalf("EncodeResult(%v) accepted invalid UTF-8", in)
		}
		if schema, _ := queue.Header(&m, queue.SchemaHeader); m.Topic != "topic" || string(m.Key) != jobID || schema != queue.ResultSchema {
			t.Fatalf("message topic %q key %q schema %q", m.Topic, m.Key, schema)
		}
		out, err := queue.DecodeResult(&m)
		terminal := state >= 1 && state <= 3
		if jobID == "" || opID == "" || !terminal {
			if !errors.Is(err, queue.ErrUndecodable) {
				t.Fatalf("result %v decoded: %v, %v", in, out, err)
			}
			return
		}
		if err != nil || !proto.Equal(in, out) {
			t.Fatalf("decode(encode(%v)) = %v, %v", in, out, err)
		}
	})
}

func allUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
