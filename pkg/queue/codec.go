package queue

import (
	"errors"
	"fmt"

	queuev1 "github.com/jobplane/jobplane/pkg/gen/jobplane/queue/v1"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
)

// Header keys of jobplane messages.
const (
	// SchemaHeader names the protobuf message type of the value, including
	// its version (jobplane.queue.v1.…).
	SchemaHeader = "jobplane-schema"
	// DLQ headers say why a message was dead-lettered and where from.
	DLQReasonHeader = "jobplane-dlq-reason"
	DLQErrorHeader  = "jobplane-dlq-error"
	DLQSourceHeader = "jobplane-dlq-source"
)

// Schema names.
var (
	RequestSchema = string((&queuev1.OperationRequest{}).ProtoReflect().Descriptor().FullName())
	ResultSchema  = string((&queuev1.OperationResult{}).ProtoReflect().Descriptor().FullName())
)

// ErrUndecodable marks a message that can never be decoded (a poison
// message): it is dead-lettered, not retried.
var ErrUndecodable = errors.New("undecodable message")

// Header returns the value of the first header named key.
func Header(m *kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// EncodeRequest builds the Kafka message of an operation request, keyed by
// key.
func EncodeRequest(topic string, key []byte, req *queuev1.OperationRequest) (kafka.Message, error) {
	v, err := proto.Marshal(req)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode operation request: %w", err)
	}
	return kafka.Message{
		Topic:   topic,
		Key:     key,
		Value:   v,
		Headers: []kafka.Header{{Key: SchemaHeader, Value: []byte(RequestSchema)}},
	}, nil
}

// DecodeRequest decodes an operation request; failures wrap ErrUndecodable.
func DecodeRequest(m *kafka.Message) (*queuev1.OperationRequest, error) {
	if err := checkSchema(m, RequestSchema); err != nil {
		return nil, err
	}
	req := &queuev1.OperationRequest{}
	if err := proto.Unmarshal(m.Value, req); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	if req.GetOperationId() == "" || req.GetJobId() == "" {
		return nil, fmt.Errorf("%w: operation request without job or operation id", ErrUndecodable)
	}
	return req, nil
}

// EncodeResult builds the Kafka message of an operation result.
func EncodeResult(topic string, key []byte, res *queuev1.OperationResult) (kafka.Message, error) {
	v, err := proto.Marshal(res)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode operation result: %w", err)
	}
	return kafka.Message{
		Topic:   topic,
		Key:     key,
		Value:   v,
		Headers: []kafka.Header{{Key: SchemaHeader, Value: []byte(ResultSchema)}},
	}, nil
}

// DecodeResult decodes an operation result; failures wrap ErrUndecodable.
func DecodeResult(m *kafka.Message) (*queuev1.OperationResult, error) {
	if err := checkSchema(m, ResultSchema); err != nil {
		return nil, err
	}
	res := &queuev1.OperationResult{}
	if err := proto.Unmarshal(m.Value, res); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	if res.GetOperationId() == "" || res.GetJobId() == "" {
		return nil, fmt.Errorf("%w: operation result without job or operation id", ErrUndecodable)
	}
	switch res.GetState() {
	case queuev1.ResultState_RESULT_STATE_SUCCEEDED, queuev1.ResultState_RESULT_STATE_FAILED, queuev1.ResultState_RESULT_STATE_CANCELLED:
	default:
		return nil, fmt.Errorf("%w: operation result with state %v", ErrUndecodable, res.GetState())
	}
	return res, nil
}

func checkSchema(m *kafka.Message, want string) error {
	got, ok := Header(m, SchemaHeader)
	if !ok {
		return fmt.Errorf("%w: missing %s header", ErrUndecodable, SchemaHeader)
	}
	if got != want {
		return fmt.Errorf("%w: schema %q, want %q", ErrUndecodable, got, want)
	}
	return nil
}
