package auth_test

import (
	"context"
	"testing"

	"github.com/jobplane/jobplane/pkg/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestValid(t *testing.T) {
	t.Parallel()
	tokens := auth.NewTokens([]string{"local-dev-token-123", " other ", ""})
	tests := []struct {
		token string
		want  bool
	}{
		{"local-dev-token-123", true},
		{"other", true},
		{"", false},
		{"local-dev-token-12", false},
		{"local-dev-token-1234", false},
	}
	for _, tt := range tests {
		if got := tokens.Valid(tt.token); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

func TestUnaryInterceptor(t *testing.T) {
	t.Parallel()
	icpt := auth.NewTokens([]string{"secret"}).UnaryInterceptor(auth.ServicePrefix("/jobplane."))
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	tests := []struct {
		name   string
		method string
		header string
		want   codes.Code
	}{
		{"valid", "/jobplane.jobs.v1.JobService/GetJob", "Bearer secret", codes.OK},
		{"scheme case-insensitive", "/jobplane.jobs.v1.JobService/GetJob", "bearer secret", codes.OK},
		{"missing", "/jobplane.jobs.v1.JobService/GetJob", "", codes.Unauthenticated},
		{"wrong", "/jobplane.jobs.v1.JobService/GetJob", "Bearer nope", codes.Unauthenticated},
		{"basic scheme", "/jobplane.jobs.v1.JobService/GetJob", "Basic secret", codes.Unauthenticated},
		{"health is open", "/grpc.health.v1.Health/Check", "", codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.header != "" {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", tt.header))
			}
			_, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: tt.method}, ok)
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code = %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}
