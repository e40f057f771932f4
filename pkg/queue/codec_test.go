package queue_test

import (
	"errors"
	"testing"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/jobplane/jobplane/pkg/queue"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
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

func FuzzDecodeRequest(f *testing.F) {
	m, _ := queue.EncodeRequest("t", nil, &queuev1.OperationRequest{JobId: "j", OperationId: "j-0", Type: "expr", Request: "1"})
	f.Add(m.Value)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, value []byte) {
		msg := kafka.Message{Value: value, Headers: m.Headers}
		req, err := queue.DecodeRequest(&msg)
		if err != nil {
			if !errors.Is(err, queue.ErrUndecodable) {
				t.Fatalf("error %v is not ErrUndecodable", err)
			}
			return
		}
		if req.GetJobId() == "" || req.GetOperationId() == "" {
			t.Fatalf("accepted request without ids: %v", req)
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	m, _ := queue.EncodeResult("t", nil, &queuev1.OperationResult{JobId: "j", OperationId: "j-0", State: queuev1.ResultState_RESULT_STATE_FAILED, Error: "x"})
	f.Add(m.Value)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, value []byte) {
		msg := kafka.Message{Value: value, Headers: m.Headers}
		res, err := queue.DecodeResult(&msg)
		if err != nil {
			if !errors.Is(err, queue.ErrUndecodable) {
				t.Fatalf("error %v is not ErrUndecodable", err)
			}
			return
		}
		if res.GetState() == queuev1.ResultState_RESULT_STATE_UNSPECIFIED {
			t.Fatalf("accepted result without state: %v", res)
		}
	})
}
