package client

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	jobsv1 "github.com/jobplane/jobplane/pkg/gen/jobplane/jobs/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
)

func testService() *jobService {
	return &jobService{
		cfg: &Config{MaxOperationsPerJob: 100, MaxRequestBytes: 64, OperationTypes: []string{"expr", "encrypt"}},
		log: slog.New(slog.DiscardHandler),
	}
}

func TestValidateCreate(t *testing.T) {
	t.Parallel()
	s := testService()
	textCtx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(sourceHeader, "text/plain"))
	long := make([]byte, 65)
	for i := range long {
		long[i] = '1'
	}
	tests := []struct {
		name  string
		ctx   context.Context
		req   *jobsv1.CreateJobRequest
		field string
	}{
		{"ok", context.Background(), &jobsv1.CreateJobRequest{Operations: []*jobsv1.OperationInput{{Request: "1"}}}, ""},
		{"empty", context.Background(), &jobsv1.CreateJobRequest{}, "operations"},
		{"blank names the line", textCtx, &jobsv1.CreateJobRequest{Operations: []*jobsv1.OperationInput{{Request: "1"}, {Request: "  "}}}, "operations[1].request"},
		{"too long", context.Background(), &jobsv1.CreateJobRequest{Operations: []*jobsv1.OperationInput{{Request: string(long)}}}, "operations[0].request"},
		{"bad type", context.Background(), &jobsv1.CreateJobRequest{Operations: []*jobsv1.OperationInput{{Type: "Bad Type", Request: "1"}}}, "operations[0].type"},
		{"unknown type", context.Background(), &jobsv1.CreateJobRequest{Operations: []*jobsv1.OperationInput{{Type: "sql", Request: "1"}}}, "operations[0].type"},
		{"bad request_id", context.Background(), &jobsv1.CreateJobRequest{RequestId: "a\nb", Operations: []*jobsv1.OperationInput{{Request: "1"}}}, "request_id"},
		{"too many", context.Background(), &jobsv1.CreateJobRequest{Operations: make([]*jobsv1.OperationInput, 101)}, "operations"},
	}
	for _, tt := range tests {
		n, err := s.validateCreate(tt.ctx, tt.req)
		var ve *validationError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.field == "" && (len(n.Operations) != 1 || n.Operations[0].Type != "expr"):
			t.Errorf("%s: default type not applied: %+v", tt.name, n)
		case tt.field != "" && (!errors.As(err, &ve) || ve.violations[0].Field != tt.field):
			t.Errorf("%s: err = %v, want a violation of %s", tt.name, err, tt.field)
		}
	}
}

// FuzzCreateJobJSON decodes arbitrary JSON as the gateway does and validates
// it: never a panic, and an accepted request is within the limits.
func FuzzCreateJobJSON(f *testing.F) {
	for _, s := range []string{
		`{"operations":[{"request":"1 + 2"}]}`,
		`{"operations":[{"type":"encrypt","request":"x"}],"request_id":"r","partition_key":"k"}`,
		`{"operations":[]}`, `{}`, `[]`, `{"operations":[{"request":""}]}`,
	} {
		f.Add([]byte(s))
	}
	s := testService()
	f.Fuzz(func(t *testing.T, data []byte) {
		var req jobsv1.CreateJobRequest
		if err := protojson.Unmarshal(data, &req); err != nil {
			return
		}
		n, err := s.validateCreate(context.Background(), &req)
		if err != nil {
			var ve *validationError
			if !errors.As(err, &ve) || len(ve.violations) == 0 {
				t.Fatalf("validation error without violations: %v", err)
			}
			return
		}
		if len(n.Operations) == 0 || len(n.Operations) > 100 {
			t.Fatalf("accepted %d operations", len(n.Operations))
		}
		for _, op := range n.Operations {
			if op.Type == "" || len(op.Request) > 64 {
				t.Fatalf("accepted %+v", op)
			}
		}
	})
}
